/* tests/unit/test_ws_proxy.c — net/ws_proxy.h: NO_PROXY matching, environment selection,
 * proxy URLs, the CONNECT request and the parser of the proxy's answer. */
#include <stdlib.h>
#include <string.h>
#include "net/ws_proxy.h"
#include "t.h"

static url_parts target(const char *s) {
  url_parts u;
  char err[URL_ERR_MAX];
  if (url_parse(&u, s, strlen(s), 0, err, sizeof err) < 0) {
    fprintf(stderr, "bad test URL %s: %s\n", s, err);
    abort();
  }
  return u;
}

static bool np(const char *list, const char *url) {
  url_parts u = target(url);
  bool r = ws_no_proxy_match(list, u.host, u.host_kind, u.port);
  url_free(&u);
  return r;
}

static void test_no_proxy(void) {
  CHECK(!np(NULL, "ws://example.com/"));
  CHECK(!np("", "ws://example.com/"));
  CHECK(np("*", "ws://example.com/"));
  CHECK(np("example.com", "ws://example.com/"));
  CHECK(np("example.com", "ws://api.example.com/"));
  CHECK(np(".example.com", "ws://example.com/"));
  CHECK(np(".example.com", "ws://a.b.example.com/"));
  CHECK(np("*.example.com", "ws://a.example.com/"));
  CHECK(np("EXAMPLE.com.", "ws://Example.COM/"));
  CHECK(!np("example.com", "ws://notexample.com/"));
  CHECK(!np("example.com", "ws://example.com.evil.net/"));
  CHECK(np("foo, bar ,example.com", "ws://example.com/"));
  CHECK(np("foo bar\texample.com", "ws://example.com/"));
  CHECK(!np("foo,,bar", "ws://example.com/"));
  /* ports */
  CHECK(np("example.com:8080", "ws://example.com:8080/"));
  CHECK(!np("example.com:8080", "ws://example.com/"));
  CHECK(np("example.com:443", "wss://example.com/"));
  CHECK(!np("example.com:x", "ws://example.com/"));
  /* IP literals and blocks: never matched against names */
  CHECK(np("127.0.0.1", "ws://127.0.0.1:9000/"));
  CHECK(!np("127.0.0.1", "ws://localhost:9000/"));
  CHECK(!np("127.0.0.2", "ws://127.0.0.1/"));
  CHECK(np("127.0.0.0/8", "ws://127.1.2.3/"));
  CHECK(!np("10.0.0.0/8", "ws://11.0.0.1/"));
  CHECK(np("10.1.0.0/17", "ws://10.1.127.255/"));
  CHECK(!np("10.1.0.0/17", "ws://10.1.128.0/"));
  CHECK(np("0.0.0.0/0", "ws://192.0.2.1/"));
  CHECK(np("127.0.0.1:80", "ws://127.0.0.1/"));
  CHECK(!np("127.0.0.1:81", "ws://127.0.0.1/"));
  CHECK(np("::1", "ws://[::1]:9000/"));
  CHECK(np("[::1]", "ws://[::1]:9000/"));
  CHECK(np("[::1]:9000", "ws://[::1]:9000/"));
  CHECK(!np("[::1]:9001", "ws://[::1]:9000/"));
  CHECK(np("fd00::/8", "ws://[fd12:3456::1]/"));
  CHECK(!np("fd00::/8", "ws://[fe80::1]/"));
  CHECK(!np("::1", "ws://127.0.0.1/"));
  CHECK(!np("127.0.0.1", "ws://[::1]/"));
  CHECK(!np("10.0.0.0/33", "ws://10.0.0.1/"));
  CHECK(!np("10.0.0.0/", "ws://10.0.0.1/"));
  CHECK(!np("300.0.0.1", "ws://10.0.0.1/"));
}

static void test_from_env(void) {
  ws_proxy_env env = {"http://plain:3128", "http://secure:3129", "internal.example, 10.0.0.0/8"};
  url_parts a = target("ws://example.com/"), b = target("wss://example.com/"),
            c = target("wss://api.internal.example/"), d = target("ws://10.2.3.4/");
  const char *var = NULL;
  CHECK_STR(ws_proxy_from_env(&env, &a, &var), "http://plain:3128");
  CHECK(var && strcasecmp(var, "http_proxy") == 0);
  CHECK_STR(ws_proxy_from_env(&env, &b, &var), "http://secure:3129");
  CHECK(var && strcasecmp(var, "https_proxy") == 0);
  CHECK(ws_proxy_from_env(&env, &c, NULL) == NULL);
  CHECK(ws_proxy_from_env(&env, &d, NULL) == NULL);
  ws_proxy_env only_http = {"http://plain:3128", NULL, NULL};
  CHECK(ws_proxy_from_env(&only_http, &b, NULL) == NULL); /* wss uses https_proxy only */
  url_free(&a);
  url_free(&b);
  url_free(&c);
  url_free(&d);
}

static void test_parse(void) {
  url_parts p;
  char err[URL_ERR_MAX];
  CHECK_EQ(ws_proxy_parse(&p, "proxy.local:3128", 16, err, sizeof err), 0);
  CHECK_STR(p.host, "proxy.local");
  CHECK_EQ(p.port, 3128);
  CHECK(p.user == NULL);
  url_free(&p);
  const char *s = "http://al%40ice:p%3Ass@127.0.0.1:8888";
  CHECK_EQ(ws_proxy_parse(&p, s, strlen(s), err, sizeof err), 0);
  CHECK_STR(p.user, "al@ice");
  CHECK_STR(p.password, "p:ss");
  CHECK_STR(p.normalized, "http://127.0.0.1:8888");
  url_free(&p);
  s = "https://secret:pw@proxy:443";
  CHECK_EQ(ws_proxy_parse(&p, s, strlen(s), err, sizeof err), -1);
  CHECK(strstr(err, "secret") == NULL && strstr(err, "pw@") == NULL);
  CHECK(strstr(err, "scheme") != NULL);
  s = "http://proxy:3128/path";
  CHECK_EQ(ws_proxy_parse(&p, s, strlen(s), err, sizeof err), -1);
}

static void test_request(void) {
  url_parts t = target("wss://Example.com/chat?x=1"), p;
  char err[URL_ERR_MAX];
  CHECK_EQ(ws_proxy_parse(&p, "http://proxy:3128", 17, err, sizeof err), 0);
  wbuf b = WBUF_INIT;
  ws_proxy_request(&b, &t, &p);
  wbuf_putc(&b, 0);
  CHECK_STR(b.data, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  wbuf_free(&b);
  url_free(&p);
  url_free(&t);

  t = target("ws://[::1]:9000/");
  const char *s = "http://Aladdin:open%20sesame@proxy";
  CHECK_EQ(ws_proxy_parse(&p, s, strlen(s), err, sizeof err), 0);
  b = (wbuf)WBUF_INIT;
  ws_proxy_request(&b, &t, &p);
  wbuf_putc(&b, 0);
  CHECK_STR(b.data, "CONNECT [::1]:9000 HTTP/1.1\r\nHost: [::1]:9000\r\n"
                    "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
  wbuf_free(&b);
  url_free(&p);

  s = "http://user@proxy"; /* no password: "user:" */
  CHECK_EQ(ws_proxy_parse(&p, s, strlen(s), err, sizeof err), 0);
  b = (wbuf)WBUF_INIT;
  ws_proxy_request(&b, &t, &p);
  wbuf_putc(&b, 0);
  CHECK(strstr(b.data, "Proxy-Authorization: Basic dXNlcjo=\r\n") != NULL);
  wbuf_free(&b);
  url_free(&p);
  url_free(&t);
}

static int parse(ws_proxy_response *r, const char *s) {
  return ws_proxy_response_parse(r, s, strlen(s), "http://proxy:3128");
}

static void test_response(void) {
  ws_proxy_response r;
  CHECK_EQ(parse(&r, ""), WS_PROXY_NEED_MORE);
  CHECK_EQ(parse(&r, "HTT"), WS_PROXY_NEED_MORE);
  CHECK_EQ(parse(&r, "HTTP/1.1 200 Connection established\r\n"), WS_PROXY_NEED_MORE);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(parse(&r, "HTTP/1.1 200 Connection established\r\n\r"), WS_PROXY_NEED_MORE);
  const char *ok = "HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\nHTTP/1.1 101";
  CHECK_EQ(parse(&r, ok), WS_PROXY_OPEN);
  CHECK_EQ(r.head_len, strlen(ok) - strlen("HTTP/1.1 101"));
  CHECK_EQ(parse(&r, "HTTP/1.0 200\n\n"), WS_PROXY_OPEN);
  CHECK_EQ(r.head_len, 14);
  CHECK_EQ(parse(&r, "HTTP/1.1 204 No Content\r\n\r\n"), WS_PROXY_OPEN);

  CHECK_EQ(parse(&r, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                     "Proxy-Authenticate: Basic realm=\"tinyproxy\"\r\nContent-Length: 0\r\n\r\n"),
           WS_PROXY_REFUSED);
  CHECK_EQ(r.status, 407);
  CHECK(!r.retryable);
  CHECK(strstr(r.error, "407 Proxy Authentication Required") != NULL);
  CHECK(strstr(r.error, "Basic realm=\"tinyproxy\"") != NULL);
  CHECK(strstr(r.error, "http://proxy:3128") != NULL);

  CHECK_EQ(parse(&r, "HTTP/1.0 401 Unauthorized\r\n\r\n"), WS_PROXY_REFUSED);
  CHECK(!r.retryable);
  CHECK(strstr(r.error, "401 Unauthorized (credentials missing or wrong)") != NULL);
  CHECK_EQ(parse(&r, "HTTP/1.1 403 Access violation\r\n\r\n"), WS_PROXY_REFUSED);
  CHECK(!r.retryable);
  CHECK(strstr(r.error, "403 Access violation") != NULL);
  CHECK_EQ(parse(&r, "HTTP/1.1 502 Bad Gateway\r\n\r\n<html>"), WS_PROXY_REFUSED);
  CHECK(r.retryable);
  CHECK_EQ(r.status, 502);

  CHECK_EQ(parse(&r, "SSH-2.0-OpenSSH\r\n"), WS_PROXY_ERROR);
  CHECK(strstr(r.error, "did not answer CONNECT with HTTP") != NULL);
  CHECK_EQ(parse(&r, "HTTP/1.1 2x0 OK\r\n\r\n"), WS_PROXY_ERROR);
  CHECK_EQ(parse(&r, "HTTP/1.1 200OK\r\n\r\n"), WS_PROXY_ERROR);
  CHECK_EQ(parse(&r, "HTTP/2 200\r\n\r\n"), WS_PROXY_ERROR);

  char *big = malloc(WS_PROXY_HEAD_MAX + 100);
  strcpy(big, "HTTP/1.1 200 OK\r\n");
  size_t n = strlen(big);
  while (n < WS_PROXY_HEAD_MAX + 50) big[n++] = 'x';
  big[n] = 0;
  CHECK_EQ(parse(&r, big), WS_PROXY_ERROR);
  CHECK(strstr(r.error, "larger than") != NULL);
  free(big);
}

TEST_MAIN(test_no_proxy, test_from_env, test_parse, test_request, test_response)
