/* tests/unit/test_ws_redial.c — net/ws_redial.h: reconnect back-off and redirect targets. */
#include <stdlib.h>
#include <string.h>
#include "net/ws_redial.h"
#include "t.h"

#define MS 1000000LL

static void test_backoff(void) {
  ws_backoff b = {100 * MS, 1000 * MS, 2.0, 0.0};
  CHECK_EQ(ws_backoff_delay(&b, 1, 0.5), 100 * MS);
  CHECK_EQ(ws_backoff_delay(&b, 2, 0.5), 200 * MS);
  CHECK_EQ(ws_backoff_delay(&b, 4, 0.5), 800 * MS);
  CHECK_EQ(ws_backoff_delay(&b, 5, 0.5), 1000 * MS);
  CHECK_EQ(ws_backoff_delay(&b, 5000, 0.5), 1000 * MS); /* pow overflows to inf: capped */
  CHECK_EQ(ws_backoff_delay(&b, 0, 0.5), 100 * MS);
  b.jitter = 0.5;
  CHECK_EQ(ws_backoff_delay(&b, 1, 0.0), 50 * MS);
  CHECK_EQ(ws_backoff_delay(&b, 1, 0.5), 100 * MS);
  CHECK(ws_backoff_delay(&b, 1, 0.999999) > 149 * MS);
  CHECK(ws_backoff_delay(&b, 9, 0.999999) <= 1500 * MS);
  b.jitter = 1.0;
  CHECK_EQ(ws_backoff_delay(&b, 3, 0.0), 0);
  ws_backoff c = {0, 0, 1.0, 0.3};
  CHECK_EQ(ws_backoff_delay(&c, 7, 0.9), 0);
  ws_backoff d = {50 * MS, 50 * MS, 1.0, 0.0};
  CHECK_EQ(ws_backoff_delay(&d, 100, 0.1), 50 * MS);
}

static void check_redirect(const char *base, const char *loc, const char *want) {
  url_parts u;
  char err[URL_ERR_MAX];
  CHECK_EQ(url_parse(&u, base, strlen(base), 0, err, sizeof err), 0);
  char *got = ws_redirect_url(&u, loc, strlen(loc));
  if (strcmp(got, want) != 0) {
    t_failures++;
    fprintf(stderr, "redirect from %s with %s: got %s, want %s\n", base, loc, got, want);
  }
  t_checks++;
  free(got);
  url_free(&u);
}

static void test_redirect(void) {
  const char *b = "ws://example.com:8080/a/b/c?q=1";
  check_redirect(b, "wss://other.net/x", "wss://other.net/x");
  check_redirect(b, "https://other.net/x", "https://other.net/x");
  check_redirect(b, "HTTP://other.net", "HTTP://other.net");
  check_redirect(b, "//cdn.example.com/s", "ws://cdn.example.com/s");
  check_redirect(b, "/root?x=2", "ws://example.com:8080/root?x=2");
  check_redirect(b, "d", "ws://example.com:8080/a/b/d");
  check_redirect(b, "../d?z", "ws://example.com:8080/a/b/../d?z");
  check_redirect(b, "?only=query", "ws://example.com:8080/a/b/c?only=query");
  check_redirect(b, "", "ws://example.com:8080/a/b/c?q=1");
  check_redirect(b, "/p#frag", "ws://example.com:8080/p");
  check_redirect(b, "  /trimmed  ", "ws://example.com:8080/trimmed");
  check_redirect("wss://[::1]/", "x", "wss://[::1]/x");
  check_redirect("wss://h/dir/", "x", "wss://h/dir/x");
  check_redirect("ws://h/", "1abc:x", "ws://h/1abc:x"); /* not a scheme: digits first */
}

TEST_MAIN(test_backoff, test_redirect)
