/* tests/unit/test_ws_handshake.c — the opening handshake: RFC 6455 §1.3 key/accept pair,
 * base64 (RFC 4648 §10), header and subprotocol validation, the exact upgrade request, and
 * the response parser on valid and broken responses, each fed at once, byte by byte and in
 * random chunks with identical results. */
#include <stdlib.h>
#include "net/base64.h"
#include "net/ws_handshake.h"
#include "tests/unit/t.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_accept_key(void) {
  char out[WS_ACCEPT_LEN + 1];
  CHECK_EQ(ws_accept_key(out, RFC_KEY), 0);
  CHECK_STR(out, RFC_ACCEPT);
  char k1[WS_KEY_LEN + 1], k2[WS_KEY_LEN + 1];
  CHECK_EQ(ws_handshake_key(k1), 0);
  CHECK_EQ(ws_handshake_key(k2), 0);
  CHECK_EQ(strlen(k1), WS_KEY_LEN);
  CHECK(strcmp(k1, k2) != 0);
  uint8_t raw[18];
  CHECK_EQ(base64_decode(raw, k1, WS_KEY_LEN), 16);
}

static void test_base64(void) {
  static const char *v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                               {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                               {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char enc[16];
    uint8_t dec[16];
    CHECK_EQ(base64_encode(enc, v[i][0], strlen(v[i][0])), strlen(v[i][1]));
    CHECK_STR(enc, v[i][1]);
    long n = base64_decode(dec, v[i][1], strlen(v[i][1]));
    CHECK_EQ(n, (long)strlen(v[i][0]));
    CHECK(memcmp(dec, v[i][0], strlen(v[i][0])) == 0);
  }
  uint8_t all[256], back[256];
  char enc[BASE64_ENCODED_LEN(256) + 1];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  for (size_t n = 0; n <= 256; n += 17) {
    CHECK_EQ(base64_encode(enc, all, n), BASE64_ENCODED_LEN(n));
    CHECK_EQ(base64_decode(back, enc, strlen(enc)), (long)n);
    CHECK(memcmp(all, back, n) == 0);
  }
  static const char *bad[] = {"Zg=", "Zh==", "Zm9=", "Z===", "Zm9v=", "Zm 9", "Zg==Zg==",
                              "Z=g=", "Zm9*", "===="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t out[16];
    CHECK_EQ(base64_decode(out, bad[i], strlen(bad[i])), -1);
  }
}

static int check_header(const char *name, const char *value, size_t vlen, char *err) {
  return ws_check_header(name, strlen(name), value, vlen, err, WS_HS_ERR_MAX);
}

static void test_check_header(void) {
  char err[WS_HS_ERR_MAX];
  CHECK_EQ(check_header("Authorization", "Bearer abc", 10, err), 0);
  CHECK_EQ(check_header("X-Empty", "", 0, err), 0);
  CHECK_EQ(check_header("X-Tab", "a\tb", 3, err), 0);
  CHECK_EQ(check_header("X-Utf8", "\xc3\xa9", 2, err), 0);
  CHECK_EQ(check_header("!#$%&'*+-.^_`|~09azAZ", "v", 1, err), 0);
  CHECK_EQ(check_header("Sec-Fetch-Mode", "cors", 4, err), 0);

  CHECK_EQ(check_header("", "v", 1, err), -1);
  CHECK_STR(err, "invalid header name \"\": must be an RFC 7230 token");
  CHECK_EQ(check_header("Bad Name", "v", 1, err), -1);
  CHECK_STR(err, "invalid header name \"Bad Name\": must be an RFC 7230 token");
  CHECK_EQ(check_header("Bad:Name", "v", 1, err), -1);
  CHECK_EQ(check_header("B\xc3\xa4" "d", "v", 1, err), -1);
  CHECK_STR(err, "invalid header name \"B\\xC3\\xA4d\": must be an RFC 7230 token");
  CHECK_EQ(check_header("X\r\nEvil", "v", 1, err), -1);

  static const char *reserved[] = {"Host", "HOST", "upgrade", "Connection", "Sec-WebSocket-Key",
                                   "sec-websocket-protocol", "SEC-WEBSOCKET-EXTENSIONS",
                                   "Sec-WebSocket-Version", "Sec-WebSocket-Accept",
                                   "Sec-WebSocket-Anything"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
    CHECK_EQ(check_header(reserved[i], "x", 1, err), -1);
    char expect[128];
    snprintf(expect, sizeof expect,
             "header \"%s\" is set by the WebSocket client and cannot be overridden",
             reserved[i]);
    CHECK_STR(err, expect);
  }
  CHECK_EQ(check_header("Sec-WebSocket", "x", 1, err), 0); /* not the reserved prefix */
  CHECK_EQ(check_header("Content-Length", "5", 1, err), -1);
  CHECK_STR(err, "header \"Content-Length\" is not allowed: the upgrade request has no body");
  CHECK_EQ(check_header("transfer-encoding", "chunked", 7, err), -1);

  CHECK_EQ(check_header("X-A", "a\r\nX-B: b", 9, err), -1);
  CHECK_STR(err, "header \"X-A\" value contains CR, LF or NUL");
  CHECK_EQ(check_header("X-A", "a\nb", 3, err), -1);
  CHECK_EQ(check_header("X-A", "a\rb", 3, err), -1);
  CHECK_EQ(check_header("X-A", "a\0b", 3, err), -1);
  CHECK_STR(err, "header \"X-A\" value contains CR, LF or NUL");
  CHECK_EQ(check_header("X-A", "a\x01", 2, err), -1);
  CHECK_STR(err, "header \"X-A\" value contains control character 0x01");
  CHECK_EQ(check_header("X-A", "\x7f", 1, err), -1);
}

static void test_check_protocols(void) {
  char err[WS_HS_ERR_MAX];
  ws_str ok[] = {{"chat", 4}, {"superchat", 9}, {"Chat", 4}, {"v1.json.api", 11}};
  CHECK_EQ(ws_check_protocols(ok, 4, err, sizeof err), 0);
  CHECK_EQ(ws_check_protocols(NULL, 0, err, sizeof err), 0);
  ws_str empty[] = {{"chat", 4}, {"", 0}};
  CHECK_EQ(ws_check_protocols(empty, 2, err, sizeof err), -1);
  CHECK_STR(err, "empty subprotocol name");
  static const char *bad[] = {"a b", "a,b", "a;b", "a/b", "a=b", "(x)", "\"q\"", "\xc3\xa9",
                              "a\tb", "{x}", "a:b", "a?b", "[x]", "a@b", "a\\b", "<x>"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ws_str p[] = {{bad[i], strlen(bad[i])}};
    CHECK_EQ(ws_check_protocols(p, 1, err, sizeof err), -1);
    CHECK(strstr(err, "must be an RFC 6455 token") != NULL);
  }
  ws_str dup[] = {{"chat", 4}, {"x", 1}, {"chat", 4}};
  CHECK_EQ(ws_check_protocols(dup, 3, err, sizeof err), -1);
  CHECK_STR(err, "duplicate subprotocol \"chat\"");
}

static void test_build_request(void) {
  char err[WS_HS_ERR_MAX];
  url_parts u;
  const char *s = "wss://Server.Example.com:443/chat?room=1";
  CHECK_EQ(url_parse(&u, s, strlen(s), 0, err, sizeof err), 0);
  ws_str protos[] = {{"chat", 4}, {"superchat", 9}};
  ws_header hdrs[] = {{"Origin", 6, "http://example.com", 18},
                      {"Authorization", 13, "Bearer t", 8}};
  ws_request req = {&u, protos, 2, "permessage-deflate; client_max_window_bits", hdrs, 2};
  wbuf out = WBUF_INIT;
  CHECK_EQ(ws_build_request(&out, &req, RFC_KEY, err, sizeof err), 0);
  wbuf_putc(&out, 0);
  CHECK_STR(out.data,
            "GET /chat?room=1 HTTP/1.1\r\n"
            "Host: server.example.com\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat, superchat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            "Origin: http://example.com\r\n"
            "Authorization: Bearer t\r\n"
            "\r\n");
  url_free(&u);

  /* minimal request, IPv6 host with a port */
  s = "ws://[::1]:9000";
  CHECK_EQ(url_parse(&u, s, strlen(s), 0, err, sizeof err), 0);
  ws_request min = {&u, NULL, 0, NULL, NULL, 0};
  wbuf_reset(&out);
  CHECK_EQ(ws_build_request(&out, &min, RFC_KEY, err, sizeof err), 0);
  wbuf_putc(&out, 0);
  CHECK_STR(out.data,
            "GET / HTTP/1.1\r\n"
            "Host: [::1]:9000\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n");

  /* bad input leaves out unchanged */
  size_t before = out.len;
  ws_header evil[] = {{"X-A", 3, "a\r\nHost: evil", 14}};
  ws_request bad = {&u, NULL, 0, NULL, evil, 1};
  CHECK_EQ(ws_build_request(&out, &bad, RFC_KEY, err, sizeof err), -1);
  CHECK_STR(err, "header \"X-A\" value contains CR, LF or NUL");
  ws_str dup[] = {{"a", 1}, {"a", 1}};
  ws_request bad2 = {&u, dup, 2, NULL, NULL, 0};
  CHECK_EQ(ws_build_request(&out, &bad2, RFC_KEY, err, sizeof err), -1);
  ws_request bad3 = {&u, NULL, 0, "x\r\ny", NULL, 0};
  CHECK_EQ(ws_build_request(&out, &bad3, RFC_KEY, err, sizeof err), -1);
  CHECK_STR(err, "extension offer contains a control character");
  CHECK_EQ(ws_build_request(&out, &min, "dGhlIHNhbXBsZSBub25jZQ\r\n", err, sizeof err), -1);
  CHECK_EQ(out.len, before);
  wbuf_free(&out);
  url_free(&u);
}

/* ---- response parser ------------------------------------------------------------------- */

enum { FEED_ALL, FEED_BYTES, FEED_RANDOM };

typedef struct {
  int rc;
  size_t hlen;
  size_t fed;  /* bytes available when the result came */
  ws_response r;
} resp_run;

static ws_str offer2[] = {{"chat", 4}, {"superchat", 9}};

static void resp_parse(resp_run *out, const char *buf, size_t len, int mode, unsigned seed,
                       const ws_str *offered, size_t noffered, bool ext) {
  memset(out, 0, sizeof *out);
  ws_response_init(&out->r, RFC_KEY, offered, noffered, ext);
  size_t avail = 0;
  out->rc = WS_HS_NEED_MORE;
  while (out->rc == WS_HS_NEED_MORE && avail < len) {
    if (mode == FEED_ALL) {
      avail = len;
    } else if (mode == FEED_BYTES) {
      avail++;
    } else {
      seed = seed * 1103515245u + 12345u;
      avail += (seed >> 16) % 50;
      if (avail > len) avail = len;
    }
    out->rc = ws_response_parse(&out->r, buf, avail, &out->hlen);
    out->fed = avail;
  }
}

/* Parses in every mode; checks they agree and returns the all-at-once run in *all.
 * *fail_at: bytes fed (byte by byte) when the result came. */
static void resp_check(resp_run *all, const char *buf, size_t len, const ws_str *offered,
                       size_t noffered, bool ext, size_t *fail_at) {
  resp_parse(all, buf, len, FEED_ALL, 0, offered, noffered, ext);
  resp_run *other = malloc(sizeof *other);
  for (int mode = FEED_BYTES; mode <= FEED_RANDOM; mode++)
    for (unsigned seed = 1; seed <= (mode == FEED_RANDOM ? 10u : 1u); seed++) {
      resp_parse(other, buf, len, mode, seed, offered, noffered, ext);
      CHECK_EQ(other->rc, all->rc);
      CHECK_STR(other->r.error, all->r.error);
      CHECK_EQ(other->r.status, all->r.status);
      if (all->rc == WS_HS_DONE) {
        CHECK_EQ(other->hlen, all->hlen);
        CHECK_EQ(other->r.nheaders, all->r.nheaders);
      }
      if (mode == FEED_BYTES && fail_at) *fail_at = other->fed;
      /* sticky */
      size_t h2 = 0;
      CHECK_EQ(ws_response_parse(&other->r, buf, len, &h2), all->rc);
      if (all->rc == WS_HS_DONE) CHECK_EQ(h2, all->hlen);
    }
  free(other);
}

#define OK_HEAD                          \
  "HTTP/1.1 101 Switching Protocols\r\n" \
  "Upgrade: websocket\r\n"               \
  "Connection: Upgrade\r\n"              \
  "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

/* Holds the last response given to expect_done: run->r points into it. */
static char done_buf[WS_HS_MAX_BYTES + 4];

static void expect_done(const char *head, const ws_str *offered, size_t noffered, bool ext,
                        resp_run *run) {
  /* frames after the head are not part of it */
  size_t hl = strlen(head);
  char *buf = done_buf;
  memcpy(buf, head, hl);
  memcpy(buf + hl, "\x81\x02hi", 4);
  size_t at = 0;
  resp_check(run, buf, hl + 4, offered, noffered, ext, &at);
  CHECK_EQ(run->rc, WS_HS_DONE);
  if (run->rc != WS_HS_DONE) fprintf(stderr, "  error: %s\n", run->r.error);
  CHECK_EQ(run->hlen, hl);
  CHECK_EQ(at, hl); /* done exactly when the blank line is complete */
  CHECK_EQ(run->r.status, 101);
}

static void expect_error(const char *head, const ws_str *offered, size_t noffered, bool ext,
                         const char *message, int status) {
  resp_run *run = malloc(sizeof *run);
  resp_check(run, head, strlen(head), offered, noffered, ext, NULL);
  CHECK_EQ(run->rc, WS_HS_ERROR);
  if (!strstr(run->r.error, message)) fprintf(stderr, "  got: %s\n", run->r.error);
  CHECK(strstr(run->r.error, message) != NULL);
  CHECK_EQ(run->r.status, status);
  free(run);
}

static void test_response_valid(void) {
  resp_run *run = malloc(sizeof *run);
  expect_done(OK_HEAD "\r\n", NULL, 0, false, run);
  CHECK_EQ(run->r.nheaders, 3);
  CHECK(run->r.protocol.ptr == NULL);
  CHECK_EQ(run->r.nextensions, 0);
  CHECK_EQ(run->r.minor_version, 1);
  CHECK_EQ(run->r.reason.len, 19);
  CHECK(memcmp(run->r.reason.ptr, "Switching Protocols", 19) == 0);
  CHECK_EQ(run->r.headers[1].name_len, 10);
  CHECK(memcmp(run->r.headers[1].name, "Connection", 10) == 0);
  CHECK_EQ(run->r.headers[1].value_len, 7);
  CHECK(memcmp(run->r.headers[1].value, "Upgrade", 7) == 0);

  /* case, whitespace, lists, bare LF, repeated Connection, extra headers */
  expect_done("HTTP/1.1 101 \r\n"
              "upgrade:   WebSocket  \r\n"
              "CONNECTION: keep-alive\r\n"
              "connection:\tkeep-alive , upgrade\r\n"
              "Server: test\n"
              "sec-websocket-accept:" RFC_ACCEPT "\n"
              "X-Empty:\r\n"
              "\n",
              NULL, 0, false, run);
  CHECK_EQ(run->r.nheaders, 6);
  CHECK_EQ(run->r.headers[5].value_len, 0);
  CHECK_EQ(run->r.reason.len, 0);
  expect_done("HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
              "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, 0, false, run);

  /* subprotocol */
  expect_done(OK_HEAD "Sec-WebSocket-Protocol: superchat\r\n\r\n", offer2, 2, false, run);
  CHECK_EQ(run->r.protocol.len, 9);
  CHECK(memcmp(run->r.protocol.ptr, "superchat", 9) == 0);

  /* extensions handed back raw, every line */
  expect_done(OK_HEAD "Sec-WebSocket-Extensions: permessage-deflate; "
                      "server_no_context_takeover\r\nX: y\r\n"
                      "sec-websocket-extensions: x-other\r\n\r\n",
              NULL, 0, true, run);
  CHECK_EQ(run->r.nextensions, 2);
  size_t pos = 0;
  const ws_header *h = ws_response_next(&run->r, "Sec-WebSocket-Extensions", &pos);
  CHECK(h != NULL && h->value_len == 46 &&
        memcmp(h->value, "permessage-deflate; server_no_context_takeover", 46) == 0);
  h = ws_response_next(&run->r, "Sec-WebSocket-Extensions", &pos);
  CHECK(h != NULL && h->value_len == 7 && memcmp(h->value, "x-other", 7) == 0);
  CHECK(ws_response_next(&run->r, "Sec-WebSocket-Extensions", &pos) == NULL);
  /* extensions offered but none accepted */
  expect_done(OK_HEAD "\r\n", NULL, 0, true, run);
  CHECK_EQ(run->r.nextensions, 0);
  free(run);
}

static void test_response_broken(void) {
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL, 0, false,
               "server answered HTTP 200 OK instead of 101 Switching Protocols", 200);
  expect_error("HTTP/1.1 404 Not Found\r\n\r\n", NULL, 0, false, "HTTP 404 Not Found", 404);
  expect_error("HTTP/1.1 403 Forbidden\r\n\r\n", NULL, 0, false, "HTTP 403", 403);
  expect_error("HTTP/1.0 503 Service Unavailable\r\n\r\n", NULL, 0, false, "HTTP 503", 503);
  expect_error("HTTP/1.0 101 Switching Protocols\r\n" "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n" "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
               NULL, 0, false, "server answered 101 with HTTP/1.0 (HTTP/1.1 required)", 101);
  expect_error("HTTP/1.1 100 Continue\r\n\r\n", NULL, 0, false,
               "unexpected interim response HTTP 100", 100);
  expect_error("HTTP/2 101\r\n\r\n", NULL, 0, false, "malformed status line \"HTTP/2 101\"", 0);
  expect_error("HTTP/1.1 1O1 x\r\n\r\n", NULL, 0, false, "malformed status line", 0);
  expect_error("HTTP/1.1  101 x\r\n\r\n", NULL, 0, false, "malformed status line", 0);
  expect_error("HTTP/1.1 101x\r\n\r\n", NULL, 0, false, "malformed status line", 0);
  expect_error("HTTP/1.1 099 x\r\n\r\n", NULL, 0, false, "malformed status line", 0);
  expect_error("HTTP/1.1 101 a\x01" "b\r\n\r\n", NULL, 0, false, "malformed status line", 0);

  /* redirects: status and Location exposed */
  resp_run *run = malloc(sizeof *run);
  const char *redir = "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://other.example/\r\n\r\n";
  resp_check(run, redir, strlen(redir), NULL, 0, false, NULL);
  CHECK_EQ(run->rc, WS_HS_ERROR);
  CHECK_EQ(run->r.status, 301);
  CHECK(run->r.location.ptr && run->r.location.len == 20 &&
        memcmp(run->r.location.ptr, "wss://other.example/", 20) == 0);
  CHECK_STR(run->r.error, "server answered HTTP 301 Moved Permanently redirecting to "
                          "\"wss://other.example/\" (redirects are not followed)");
  const char *redir2 = "HTTP/1.1 302 Found\r\n\r\n";
  resp_check(run, redir2, strlen(redir2), NULL, 0, false, NULL);
  CHECK_EQ(run->r.status, 302);
  CHECK(run->r.location.ptr == NULL);

  /* not HTTP at all: fails on the first byte that differs from "HTTP/" */
  size_t at = 0;
  resp_check(run, "SSH-2.0-OpenSSH_9.2\r\n", 21, NULL, 0, false, &at);
  CHECK_EQ(run->rc, WS_HS_ERROR);
  CHECK_EQ(at, 1);
  CHECK_STR(run->r.error, "not an HTTP response (starts with \"S\")");
  resp_check(run, "HTTX/1.1 101", 12, NULL, 0, false, &at);
  CHECK_EQ(at, 4);
  CHECK_STR(run->r.error, "not an HTTP response (starts with \"HTTX\")");
  resp_check(run, "\x16\x03\x01\x02\x00", 5, NULL, 0, false, &at);
  CHECK_EQ(at, 1);
  CHECK_STR(run->r.error, "server answered with TLS (use wss://)");
  free(run);

  /* header checks */
  const char *acc = "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n";
  char b[1024];
#define HEAD(...) (snprintf(b, sizeof b, __VA_ARGS__), b)
  expect_error(HEAD("HTTP/1.1 101 S\r\nConnection: Upgrade\r\n%s\r\n", acc), NULL, 0, false,
               "missing Upgrade header in the 101 response", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n%s\r\n", acc), NULL,
               0, false, "Upgrade header is \"h2c\", expected \"websocket\"", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\n%s\r\n",
                    acc), NULL, 0, false, "Upgrade header is", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\n%s\r\n", acc), NULL, 0, false,
               "duplicate Upgrade header", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n%s\r\n", acc), NULL, 0, false,
               "missing Connection header in the 101 response", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n%s\r\n",
                    acc), NULL, 0, false, "Connection header does not contain \"Upgrade\"", 101);
  expect_error(HEAD("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: upgraded\r\n%s\r\n",
                    acc), NULL, 0, false, "Connection header does not contain", 101);
  expect_error("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", NULL, 0,
               false, "missing Sec-WebSocket-Accept header", 101);
  expect_error("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n\r\n", NULL, 0, false,
               "Sec-WebSocket-Accept is \"s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\", expected \""
               RFC_ACCEPT "\"", 101);
  expect_error("HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " RFC_ACCEPT "x\r\n\r\n", NULL, 0, false,
               "Sec-WebSocket-Accept is", 101);
  expect_error(OK_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, 0, false,
               "duplicate Sec-WebSocket-Accept header", 101);

  /* subprotocols */
  expect_error(OK_HEAD "Sec-WebSocket-Protocol: chat\r\n\r\n", NULL, 0, false,
               "server selected subprotocol \"chat\", which was not offered", 101);
  expect_error(OK_HEAD "Sec-WebSocket-Protocol: other\r\n\r\n", offer2, 2, false,
               "server selected subprotocol \"other\"", 101);
  expect_error(OK_HEAD "Sec-WebSocket-Protocol: Chat\r\n\r\n", offer2, 2, false,
               "server selected subprotocol \"Chat\"", 101);
  expect_error(OK_HEAD "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n", offer2, 2, false,
               "server selected subprotocol", 101);
  expect_error(OK_HEAD "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
               offer2, 2, false, "duplicate Sec-WebSocket-Protocol header", 101);
  /* extensions never offered */
  expect_error(OK_HEAD "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", NULL, 0, false,
               "server selected extensions \"permessage-deflate\", but none were offered", 101);

  /* syntax */
  expect_error(OK_HEAD "X-A: b\r\n c\r\n\r\n", NULL, 0, false,
               "obsolete line folding in response headers", 101);
  expect_error(OK_HEAD "X-A : b\r\n\r\n", NULL, 0, false,
               "malformed response header line \"X-A : b\"", 101);
  expect_error(OK_HEAD "Garbage\r\n\r\n", NULL, 0, false, "malformed response header line", 101);
  expect_error(OK_HEAD ": v\r\n\r\n", NULL, 0, false, "malformed response header line", 101);
  expect_error(OK_HEAD "X-A: b\rc\r\n\r\n", NULL, 0, false, "bare CR in response headers", 101);
  expect_error("HTTP/1.1 101 S\rX\r\n\r\n", NULL, 0, false, "bare CR in the status line", 0);
  expect_error(OK_HEAD "X-A: b\x01\r\n\r\n", NULL, 0, false,
               "control character 0x01 in response header \"X-A\"", 101);
  /* NUL inside a value */
  static const char nul[] = OK_HEAD "X-A: b\0c\r\n\r\n";
  resp_run *r2 = malloc(sizeof *r2);
  resp_check(r2, nul, sizeof nul - 1, NULL, 0, false, NULL);
  CHECK_EQ(r2->rc, WS_HS_ERROR);
  CHECK_STR(r2->r.error, "control character 0x00 in response header \"X-A\"");
  free(r2);
#undef HEAD
}

static void test_response_limits(void) {
  wbuf b = WBUF_INIT;
  resp_run *run = malloc(sizeof *run);
  /* exactly 100 header lines are fine, 101 are not */
  wbuf_printf(&b, OK_HEAD);
  for (int i = 3; i < WS_HS_MAX_HEADERS; i++) wbuf_printf(&b, "X-%d: v\r\n", i);
  wbuf_printf(&b, "\r\n");
  resp_check(run, b.data, b.len, NULL, 0, false, NULL);
  CHECK_EQ(run->rc, WS_HS_DONE);
  CHECK_EQ(run->r.nheaders, WS_HS_MAX_HEADERS);
  b.len -= 2;
  wbuf_printf(&b, "X-Extra: v\r\n\r\n");
  resp_check(run, b.data, b.len, NULL, 0, false, NULL);
  CHECK_EQ(run->rc, WS_HS_ERROR);
  CHECK_STR(run->r.error, "more than 100 response header lines");

  /* a head of exactly 16384 bytes is fine; one more byte fails as soon as it arrives */
  wbuf_reset(&b);
  wbuf_printf(&b, OK_HEAD "X-Pad: ");
  size_t pad = WS_HS_MAX_BYTES - b.len - 4;
  for (size_t i = 0; i < pad; i++) wbuf_putc(&b, 'p');
  wbuf_printf(&b, "\r\n\r\n");
  CHECK_EQ(b.len, WS_HS_MAX_BYTES);
  resp_check(run, b.data, b.len, NULL, 0, false, NULL);
  CHECK_EQ(run->rc, WS_HS_DONE);
  CHECK_EQ(run->hlen, WS_HS_MAX_BYTES);
  wbuf_reset(&b);
  wbuf_printf(&b, "HTTP/1.1 403 Forbidden\r\nX-Pad: ");
  while (b.len < WS_HS_MAX_BYTES + 100) wbuf_putc(&b, 'p');
  size_t at = 0;
  resp_check(run, b.data, b.len, NULL, 0, false, &at);
  CHECK_EQ(run->rc, WS_HS_ERROR);
  CHECK_EQ(at, WS_HS_MAX_BYTES); /* the 16384th byte is not the end: the head is too big */
  CHECK_STR(run->r.error, "response head exceeds 16384 bytes");
  CHECK_EQ(run->r.status, 403); /* known from the status line */
  /* need more, with nothing yet */
  ws_response_init(&run->r, RFC_KEY, NULL, 0, false);
  size_t hl = 99;
  CHECK_EQ(ws_response_parse(&run->r, "", 0, &hl), WS_HS_NEED_MORE);
  CHECK_EQ(ws_response_parse(&run->r, "HTTP/1.1 101 S\r\n", 16, &hl), WS_HS_NEED_MORE);
  CHECK_EQ(run->r.status, 101);
  CHECK_EQ(hl, 99);
  free(run);
  wbuf_free(&b);
}

TEST_MAIN(test_accept_key, test_base64, test_check_header, test_check_protocols,
          test_build_request, test_response_valid, test_response_broken, test_response_limits)
