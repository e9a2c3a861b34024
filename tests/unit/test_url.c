/* tests/unit/test_url.c — URL parsing: the normalisation table (every normalised form must
 * parse back to itself), rejections with their messages, proxy URLs with credentials, and
 * RFC 3986 §5.2.4 dot-segment removal. */
#include <stdlib.h>
#include "net/url.h"
#include "tests/unit/t.h"

typedef struct {
  const char *in, *normalized, *host, *authority, *target;
  int port;
  bool tls;
  url_host_kind kind;
} ok_case;

static const ok_case ok_cases[] = {
  {"ws://example.com", "ws://example.com/", "example.com", "example.com", "/", 80, false,
   URL_HOST_NAME},
  {"WSS://Example.COM:443/Chat?X=1", "wss://example.com/Chat?X=1", "example.com",
   "example.com", "/Chat?X=1", 443, true, URL_HOST_NAME},
  {"http://h:80/a", "ws://h/a", "h", "h", "/a", 80, false, URL_HOST_NAME},
  {"HTTPS://h:8443/", "wss://h:8443/", "h", "h:8443", "/", 8443, true, URL_HOST_NAME},
  {"https://h", "wss://h/", "h", "h", "/", 443, true, URL_HOST_NAME},
  {"ws://h:443/", "ws://h:443/", "h", "h:443", "/", 443, false, URL_HOST_NAME},
  {"wss://h:80/", "wss://h:80/", "h", "h:80", "/", 80, true, URL_HOST_NAME},
  {"ws://[::1]:9000/x", "ws://[::1]:9000/x", "::1", "[::1]:9000", "/x", 9000, false,
   URL_HOST_IPV6},
  {"ws://[0:0:0:0:0:0:0:1]", "ws://[::1]/", "::1", "[::1]", "/", 80, false, URL_HOST_IPV6},
  {"wss://[2001:DB8::A]:443/", "wss://[2001:db8::a]/", "2001:db8::a", "[2001:db8::a]", "/",
   443, true, URL_HOST_IPV6},
  {"ws://[::ffff:1.2.3.4]/", "ws://[::ffff:1.2.3.4]/", "::ffff:1.2.3.4", "[::ffff:1.2.3.4]",
   "/", 80, false, URL_HOST_IPV6},
  {"ws://127.0.0.1:8080", "ws://127.0.0.1:8080/", "127.0.0.1", "127.0.0.1:8080", "/", 8080,
   false, URL_HOST_IPV4},
  {"ws://0.0.0.0/", "ws://0.0.0.0/", "0.0.0.0", "0.0.0.0", "/", 80, false, URL_HOST_IPV4},
  {"ws://h/a/./b/../c", "ws://h/a/c", "h", "h", "/a/c", 80, false, URL_HOST_NAME},
  {"ws://h/a/%2e%2E/b", "ws://h/b", "h", "h", "/b", 80, false, URL_HOST_NAME},
  {"ws://h/a/b/..", "ws://h/a/", "h", "h", "/a/", 80, false, URL_HOST_NAME},
  {"ws://h/../../x", "ws://h/x", "h", "h", "/x", 80, false, URL_HOST_NAME},
  {"ws://h/a/../../..", "ws://h/", "h", "h", "/", 80, false, URL_HOST_NAME},
  {"ws://h/%7Euser/%41%2f%3a", "ws://h/~user/A%2F%3A", "h", "h", "/~user/A%2F%3A", 80, false,
   URL_HOST_NAME},
  {"ws://h/a b?q=\xc3\xa9&r=a b", "ws://h/a%20b?q=%C3%A9&r=a%20b", "h", "h",
   "/a%20b?q=%C3%A9&r=a%20b", 80, false, URL_HOST_NAME},
  {"ws://h/{x}|^`\"<>\\[]", "ws://h/%7Bx%7D%7C%5E%60%22%3C%3E%5C%5B%5D", "h", "h",
   "/%7Bx%7D%7C%5E%60%22%3C%3E%5C%5B%5D", 80, false, URL_HOST_NAME},
  {"ws://h?x", "ws://h/?x", "h", "h", "/?x", 80, false, URL_HOST_NAME},
  {"ws://h/?", "ws://h/?", "h", "h", "/?", 80, false, URL_HOST_NAME},
  {"ws://h/p?a=/b?c/../d", "ws://h/p?a=/b?c/../d", "h", "h", "/p?a=/b?c/../d", 80, false,
   URL_HOST_NAME},
  {"ws://h/p;x=1:@!$&'()*+,=", "ws://h/p;x=1:@!$&'()*+,=", "h", "h", "/p;x=1:@!$&'()*+,=", 80,
   false, URL_HOST_NAME},
  {"ws://example.com./", "ws://example.com/", "example.com", "example.com", "/", 80, false,
   URL_HOST_NAME},
  {"ws://h:/", "ws://h/", "h", "h", "/", 80, false, URL_HOST_NAME},
  {"ws://h:0080/", "ws://h/", "h", "h", "/", 80, false, URL_HOST_NAME},
  {"ws://h:65535/", "ws://h:65535/", "h", "h:65535", "/", 65535, false, URL_HOST_NAME},
  {"ws://h:1/", "ws://h:1/", "h", "h:1", "/", 1, false, URL_HOST_NAME},
  {"ws://My_Host-1.Local/", "ws://my_host-1.local/", "my_host-1.local", "my_host-1.local", "/",
   80, false, URL_HOST_NAME},
  {"ws://1.2.3.4.example/", "ws://1.2.3.4.example/", "1.2.3.4.example", "1.2.3.4.example", "/",
   80, false, URL_HOST_NAME},
  {"ws://h//a//b/", "ws://h//a//b/", "h", "h", "//a//b/", 80, false, URL_HOST_NAME},
};

static void check_ok(const ok_case *c) {
  url_parts u;
  char err[URL_ERR_MAX];
  int rc = url_parse(&u, c->in, strlen(c->in), 0, err, sizeof err);
  CHECK_EQ(rc, 0);
  if (rc) {
    fprintf(stderr, "  %s: %s\n", c->in, err);
    return;
  }
  CHECK_STR(u.normalized, c->normalized);
  CHECK_STR(u.host, c->host);
  CHECK_STR(u.authority, c->authority);
  CHECK_STR(u.target, c->target);
  CHECK_EQ(u.port, c->port);
  CHECK_EQ(u.tls, c->tls);
  CHECK_EQ(u.host_kind, c->kind);
  CHECK_STR(u.scheme, c->tls ? "wss" : "ws");
  CHECK(u.user == NULL && u.password == NULL);
  /* idempotent */
  url_parts v;
  CHECK_EQ(url_parse(&v, u.normalized, strlen(u.normalized), 0, err, sizeof err), 0);
  CHECK_STR(v.normalized, u.normalized);
  CHECK_STR(v.target, u.target);
  url_free(&v);
  url_free(&u);
  CHECK(u.mem == NULL);
}

static void test_normalisation(void) {
  for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) check_ok(&ok_cases[i]);
}

typedef struct {
  const char *in;
  unsigned flags;
  const char *message; /* the whole message, or a substring when it starts with '~' */
} err_case;

static const err_case err_cases[] = {
  {"ftp://x", 0, "invalid URL \"ftp://x\": unsupported scheme \"ftp\" (use ws:// or wss://)"},
  {"example.com/ws", 0, "invalid URL \"example.com/ws\": missing scheme (use ws:// or wss://)"},
  {"ws:example.com", 0, "invalid URL \"ws:example.com\": expected \"//\" after \"ws:\""},
  {"ws:/example.com", 0, "~expected \"//\" after \"ws:\""},
  {"", 0, "invalid URL \"\": empty URL"},
  {"ws://h/#frag", 0, "~fragments are not allowed in WebSocket URLs (RFC 6455 section 3)"},
  {"ws://h/?q#", 0, "~fragments are not allowed"},
  {"ws://user:pw@h/", 0, "invalid URL \"ws://***@h/\": user info is not supported in "
                         "WebSocket URLs (send credentials in a header, e.g. Authorization)"},
  {"ws:///x", 0, "~missing host"},
  {"ws://:80/", 0, "~missing host"},
  {"ws://h:0/", 0, "~port 0 is out of range (1-65535)"},
  {"ws://h:65536/", 0, "~port 65536 is out of range (1-65535)"},
  {"ws://h:99999999999999999999/", 0, "~is out of range (1-65535)"},
  {"ws://h:8a/", 0, "~invalid port \"8a\" (use a number 1-65535)"},
  {"ws://h:80:90/", 0, "~invalid port \"80:90\""},
  {"ws://h:-1/", 0, "~invalid port \"-1\""},
  {"ws://[::1/", 0, "~unterminated IPv6 address (missing ']')"},
  {"ws://[::g]/", 0, "~invalid IPv6 address \"::g\""},
  {"ws://[1:2:3:4:5:6:7:8:9]/", 0, "~invalid IPv6 address"},
  {"ws://[]/", 0, "~invalid IPv6 address \"\""},
  {"ws://[fe80::1%25eth0]/", 0, "~IPv6 zone identifiers are not supported"},
  {"ws://[v1.x]/", 0, "~IPvFuture address \"v1.x\" is not supported"},
  {"ws://[::1]x/", 0, "~unexpected character 'x' after the IPv6 address"},
  {"ws://a..b/", 0, "~empty label in host \"a..b\""},
  {"ws://./", 0, "~empty label in host"},
  {"ws://a../", 0, "~empty label in host"},
  {"ws://h!/", 0, "~invalid character '!' in host \"h!\""},
  {"ws://h h/", 0, "~invalid character ' ' in host"},
  {"ws://ex%41mple.com/", 0, "~percent-encoded host name \"ex%41mple.com\" is not supported"},
  {"ws://ex\xc3\xa4mple.com/", 0, "~non-ASCII host name \"ex\\xC3\\xA4mple.com\" (use its "
                                  "punycode xn-- form)"},
  {"ws://127.1/", 0, "~invalid IPv4 address \"127.1\""},
  {"ws://0x7f.0.0.1/", 0, "~invalid IPv4 address"},
  {"ws://2130706433/", 0, "~invalid IPv4 address"},
  {"ws://1.2.3.0x4/", 0, "~invalid IPv4 address"},
  {"ws://example.0x/", 0, "~invalid IPv4 address"},
  {"ws://256.0.0.1/", 0, "~invalid IPv4 address"},
  {"ws://01.2.3.4/", 0, "~invalid IPv4 address"},
  {"ws://1.2.3.4.5/", 0, "~invalid IPv4 address"},
  {"ws://h/a%2", 0, "~invalid percent-encoding \"%2\" in the path"},
  {"ws://h/a%zz", 0, "~invalid percent-encoding \"%zz\" in the path"},
  {"ws://h/?a=%", 0, "~invalid percent-encoding \"%\" in the query"},
  {"ws://h/\x01", 0, "~control character 0x01 at offset 7"},
  {"ws://h/\x7f", 0, "~control character 0x7F"},
  {"ws://h/a\nb", 0, "~control character 0x0A"},
  {"gopher://h/", 0, "~unsupported scheme \"gopher\""},
  {"https://p:8080", URL_PROXY, "invalid proxy URL \"https://p:8080\": unsupported proxy "
                                "scheme \"https\" (use http://)"},
  {"ws://p", URL_PROXY, "~unsupported proxy scheme \"ws\""},
  {"http://p/path", URL_PROXY, "~a proxy URL must not have a path or query"},
  {"http://p/?x", URL_PROXY, "~a proxy URL must not have a path or query"},
  {"http://p#x", URL_PROXY, "~fragments are not allowed in proxy URLs"},
  {"http://u:p%00@h", URL_PROXY, "invalid proxy URL \"http://***@h\": user info contains a NUL "
                                 "byte (%00)"},
  {"http://u:p%4@h", URL_PROXY, "~invalid percent-encoding in user info"},
  {"http://u:se cret@h", URL_PROXY, "invalid proxy URL \"http://***@h\": invalid character in "
                                    "user info (percent-encode it)"},
  {"http://a@b@h", URL_PROXY, "~invalid character in user info"},
  {"http://u:se/cret@h", URL_PROXY, "invalid proxy URL \"http://***@h\": '/' and '?' in "
                                    "user info must be percent-encoded (%2F, %3F)"},
  {"http://u:se?cret@h", URL_PROXY, "invalid proxy URL \"http://***@h\": '/' and '?' in "
                                    "user info must be percent-encoded (%2F, %3F)"},
};

static void check_err(const err_case *c) {
  url_parts u;
  char err[URL_ERR_MAX];
  memset(err, 'Z', sizeof err);
  int rc = url_parse(&u, c->in, strlen(c->in), c->flags, err, sizeof err);
  CHECK_EQ(rc, -1);
  CHECK(u.mem == NULL);
  if (rc == 0) {
    fprintf(stderr, "  accepted %s -> %s\n", c->in, u.normalized);
    url_free(&u);
    return;
  }
  if (c->message[0] == '~') {
    if (!strstr(err, c->message + 1)) fprintf(stderr, "  %s: got %s\n", c->in, err);
    CHECK(strstr(err, c->message + 1) != NULL);
  } else {
    CHECK_STR(err, c->message);
  }
  CHECK(!strstr(err, "secret") && !strstr(err, "pw@"));
}

static void test_errors(void) {
  for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) check_err(&err_cases[i]);
}

static void test_limits(void) {
  char err[URL_ERR_MAX];
  url_parts u;
  /* an overlong URL: rejected, and the quoted URL in the message is cut short */
  size_t n = URL_MAX_LEN + 1;
  char *s = malloc(n + 1);
  memcpy(s, "ws://h/", 7);
  memset(s + 7, 'a', n - 7);
  s[n] = 0;
  CHECK_EQ(url_parse(&u, s, n, 0, err, sizeof err), -1);
  CHECK(strstr(err, "URL is longer than 8192 bytes") != NULL);
  CHECK(strstr(err, "...") != NULL);
  /* exactly the maximum is fine */
  CHECK_EQ(url_parse(&u, s, URL_MAX_LEN, 0, err, sizeof err), 0);
  CHECK_EQ(strlen(u.target), URL_MAX_LEN - 6);
  url_free(&u);
  /* short enough as given, too long once non-ASCII bytes are escaped */
  memset(s + 7, 0xE9, 3000);
  CHECK_EQ(url_parse(&u, s, 3007, 0, err, sizeof err), -1);
  CHECK(strstr(err, "URL is longer than 8192 bytes once normalised") != NULL);
  free(s);
  /* labels up to 63 bytes, names up to 253 */
  char host[300];
  snprintf(host, sizeof host, "ws://%.63s.com/",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK_EQ(url_parse(&u, host, strlen(host), 0, err, sizeof err), 0);
  url_free(&u);
  snprintf(host, sizeof host, "ws://%.64s.com/",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK_EQ(url_parse(&u, host, strlen(host), 0, err, sizeof err), -1);
  CHECK(strstr(err, "label longer than 63 bytes") != NULL);
  char name[260];
  for (int i = 0; i < 254; i++) name[i] = i % 2 ? '.' : 'a';
  name[253] = 0; /* "a.a.….a": 253 bytes */
  snprintf(host, sizeof host, "ws://%s/", name);
  CHECK_EQ(url_parse(&u, host, strlen(host), 0, err, sizeof err), 0);
  url_free(&u);
  snprintf(host, sizeof host, "ws://%sa.b/", name);
  CHECK_EQ(url_parse(&u, host, strlen(host), 0, err, sizeof err), -1);
  CHECK(strstr(err, "longer than 253 bytes") != NULL);
  /* a tiny error buffer is still NUL-terminated; NULL is allowed */
  char small[8];
  CHECK_EQ(url_parse(&u, "ftp://x", 7, 0, small, sizeof small), -1);
  CHECK_EQ(strlen(small), 7);
  CHECK_EQ(url_parse(&u, "ftp://x", 7, 0, NULL, 0), -1);
  /* explicit length: bytes after it are not looked at, embedded NUL is a control char */
  CHECK_EQ(url_parse(&u, "ws://h/x#junk", 8, 0, err, sizeof err), 0);
  CHECK_STR(u.normalized, "ws://h/x");
  url_free(&u);
  CHECK_EQ(url_parse(&u, "ws://h/\0x", 9, 0, err, sizeof err), -1);
  CHECK(strstr(err, "control character 0x00") != NULL);
}

static void test_proxy(void) {
  url_parts u;
  char err[URL_ERR_MAX];
  const char *s = "http://user:pa%40ss%3A@Proxy.Local:3128";
  CHECK_EQ(url_parse(&u, s, strlen(s), URL_PROXY, err, sizeof err), 0);
  CHECK_STR(u.scheme, "http");
  CHECK(!u.tls);
  CHECK_STR(u.host, "proxy.local");
  CHECK_EQ(u.port, 3128);
  CHECK_STR(u.normalized, "http://proxy.local:3128");
  CHECK_STR(u.authority, "proxy.local:3128");
  CHECK_STR(u.user, "user");
  CHECK_EQ(u.user_len, 4);
  CHECK_STR(u.password, "pa@ss:");
  CHECK_EQ(u.password_len, 6);
  url_free(&u);

  s = "HTTP://p/";
  CHECK_EQ(url_parse(&u, s, strlen(s), URL_PROXY, err, sizeof err), 0);
  CHECK_EQ(u.port, 80);
  CHECK(u.user == NULL && u.password == NULL);
  CHECK_STR(u.normalized, "http://p");
  url_free(&u);

  s = "http://u@[::1]:8080";
  CHECK_EQ(url_parse(&u, s, strlen(s), URL_PROXY, err, sizeof err), 0);
  CHECK_STR(u.user, "u");
  CHECK(u.password == NULL);
  CHECK_STR(u.host, "::1");
  CHECK_STR(u.normalized, "http://[::1]:8080");
  url_free(&u);

  s = "http://:secret@p";
  CHECK_EQ(url_parse(&u, s, strlen(s), URL_PROXY, err, sizeof err), 0);
  CHECK_STR(u.user, "");
  CHECK_STR(u.password, "secret");
  url_free(&u);

  s = "http://@p";
  CHECK_EQ(url_parse(&u, s, strlen(s), URL_PROXY, err, sizeof err), 0);
  CHECK_STR(u.user, "");
  CHECK(u.password == NULL);
  url_free(&u);
}

static void test_dot_segments(void) {
  static const char *cases[][2] = {
      {"/a/b/c/./../../g", "/a/g"}, /* RFC 3986 §5.2.4 */
      {"/b/c/./g", "/b/c/g"},       /* §5.4.1, after merging with base /b/c/d;p */
      {"/b/c/g/", "/b/c/g/"},
      {"/b/c/", "/b/c/"},
      {"/b/c/g/.", "/b/c/g/"},
      {"/b/c/g/..", "/b/c/"},
      {"/b/c/../g", "/b/g"},
      {"/b/c/../..", "/"},
      {"/b/c/../../g", "/g"},
      {"/b/c/../../../g", "/g"},    /* §5.4.2 */
      {"/b/c/../../../../g", "/g"},
      {"/./g", "/g"},
      {"/../g", "/g"},
      {"/b/c/g.", "/b/c/g."},
      {"/b/c/.g", "/b/c/.g"},
      {"/b/c/g..", "/b/c/g.."},
      {"/b/c/..g", "/b/c/..g"},
      {"/b/c/./../g", "/b/g"},
      {"/b/c/./g/.", "/b/c/g/"},
      {"/b/c/g/./h", "/b/c/g/h"},
      {"/b/c/g/../h", "/b/c/h"},
      {"/b/c/g;x=1/./y", "/b/c/g;x=1/y"},
      {"/b/c/g;x=1/../y", "/b/c/y"},
      {"/", "/"},
      {"/.", "/"},
      {"/..", "/"},
      {"//", "//"},
      {"/a//../b", "/a/b"},
      {"/a/..//b", "//b"},
      {"/a/.../b", "/a/.../b"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[64];
    size_t n = url_remove_dot_segments(out, cases[i][0], strlen(cases[i][0]));
    out[n] = 0;
    CHECK_STR(out, cases[i][1]);
  }
}

TEST_MAIN(test_normalisation, test_errors, test_limits, test_proxy, test_dot_segments)
