/* tests/unit/test_ws_conn.c — the net side of the WebSocket client (net/ws_conn.c, ws_dial.c)
 * without Lua: connections run on the real net thread, the peer is a blocking socket driven by
 * the test thread, events are read from a plain mailbox. Every case runs on both backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "core/clock.h"
#include "net/netloop.h"
#include "net/ws_client.h"
#include "t.h"

/* ---- a mailbox the test thread waits on ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static mailbox mb;

static void notify(mailbox *m) {
  pthread_mutex_lock(&mu);
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static mbox_entry *next_event(int timeout_ms) {
  int64_t until = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    mbox_entry *e = mbox_take(&mb);
    if (e) return e;
    if (clock_mono_ns() >= until) return NULL;
    pthread_mutex_lock(&mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 5000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    if (!mbox_maybe_nonempty(&mb)) pthread_cond_timedwait(&cv, &mu, &ts);
    pthread_mutex_unlock(&mu);
  }
}

/* Waits for an event of the given kind, failing the check on anything else. */
static mbox_entry *expect(int kind, int timeout_ms) {
  mbox_entry *e = next_event(timeout_ms);
  CHECK(e != NULL);
  if (!e) return NULL;
  CHECK_EQ(e->kind, MB_NET);
  CHECK_EQ(e->flags, kind);
  if ((int)e->flags != kind) {
    fprintf(stderr, "  expected event %d, got %u\n", kind, e->flags);
    mbox_entry_free(e);
    return NULL;
  }
  return e;
}

static int closed_code(mbox_entry *e) {
  ws_closed_event ce;
  memcpy(&ce, e->data, sizeof ce);
  return ce.code;
}

/* ---- the peer ---- */

static int listen_on(uint16_t *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) abort();
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return s;
}

static int accept_peer(int ls) {
  int c = accept(ls, NULL, NULL);
  struct timeval tv = {3, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return c;
}

/* Reads the upgrade request and answers 101 (with protocol, if any, and extension, if any);
 * the request is kept in last_request. */
static char last_request[8192];
static void upgrade_ext(int c, const char *protocol, const char *extension);
static void upgrade(int c, const char *protocol) { upgrade_ext(c, protocol, NULL); }

static void upgrade_ext(int c, const char *protocol, const char *extension) {
  char req[8192];
  size_t n = 0;
  while (n < sizeof req - 1) {
    ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = 0;
    if (strstr(req, "\r\n\r\n")) break;
  }
  char *k = strcasestr(req, "Sec-WebSocket-Key: ");
  CHECK(k != NULL);
  if (!k) return;
  memcpy(last_request, req, n + 1);
  char accept[WS_ACCEPT_LEN + 1], resp[768];
  ws_accept_key(accept, k + 19);
  int rl = snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s%s%s%s\r\n", accept,
                    protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                    protocol ? "\r\n" : "", extension ? "Sec-WebSocket-Extensions: " : "",
                    extension ? extension : "", extension ? "\r\n" : "");
  send(c, resp, (size_t)rl, MSG_NOSIGNAL);
}

static void send_frame(int c, int opcode, const void *data, size_t len) {
  uint8_t h[10];
  size_t hl = 2;
  h[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    h[1] = (uint8_t)len;
  } else {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    hl = 4;
  }
  send(c, h, hl, MSG_NOSIGNAL);
  if (len) send(c, data, len, MSG_NOSIGNAL);
}

static bool read_full(int c, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(c, (char *)p + got, n - got, 0);
    if (r <= 0) return false;
    got += (size_t)r;
  }
  return true;
}

/* Reads one client frame (must be masked); returns its opcode, -1 on EOF or error. */
static int read_frame(int c, uint8_t *buf, size_t cap, size_t *len) {
  uint8_t h[2], mask[4];
  if (!read_full(c, h, 2)) return -1;
  CHECK(h[1] & 0x80);
  uint64_t n = h[1] & 0x7F;
  if (n == 126) {
    uint8_t x[2];
    if (!read_full(c, x, 2)) return -1;
    n = (uint64_t)x[0] << 8 | x[1];
  } else if (n == 127) {
    uint8_t x[8];
    if (!read_full(c, x, 8)) return -1;
    n = 0;
    for (int i = 0; i < 8; i++) n = n << 8 | x[i];
  }
  if (n > cap || !read_full(c, mask, 4) || !read_full(c, buf, (size_t)n)) return -1;
  for (size_t i = 0; i < n; i++) buf[i] ^= mask[i & 3];
  *len = (size_t)n;
  return h[0] & 0x0F;
}

static ws_connect_opts *opts_for(uint16_t port, const char *path) {
  ws_connect_opts *o = ws_connect_opts_new();
  char url[128], err[URL_ERR_MAX];
  snprintf(url, sizeof url, "ws://127.0.0.1:%u%s", (unsigned)port, path);
  if (url_parse(&o->url, url, strlen(url), 0, err, sizeof err) < 0) abort();
  return o;
}

/* Connects and completes the upgrade; returns the connection id, peer fd in *peer. */
static uint64_t open_conn(int ls, uint16_t port, ws_connect_opts *o, int *peer) {
  uint64_t id = ws_net_connect(&mb, 7, o);
  *peer = accept_peer(ls);
  upgrade(*peer, NULL);
  mbox_entry *e = expect(WSE_OPEN, 2000);
  if (e) {
    CHECK_EQ(e->arg, id);
    mbox_entry_free(e);
  }
  return id;
}

/* Every event was consumed and every connection let the mailbox go. */
static void check_quiet(void) {
  for (int i = 0; i < 200 && ws_net_count() > 0; i++) usleep(10000);
  CHECK_EQ(ws_net_count(), 0);
  CHECK_EQ(atomic_load(&mb.refs), 1);
  mbox_entry *e = mbox_take(&mb);
  CHECK(e == NULL);
  if (e) {
    fprintf(stderr, "  stray event %u\n", e->flags);
    mbox_entry_free(e);
  }
}

/* ---- cases ---- */

static void test_echo_and_close(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  ws_masker m;
  ws_masker_init(&m);
  uint64_t id = open_conn(ls, port, opts_for(port, "/chat?x=1"), &peer);
  send_frame(peer, WS_OP_TEXT, "hello", 5);
  mbox_entry *e = expect(WSE_MESSAGE, 2000);
  if (e) {
    CHECK_EQ(e->target, 7);
    CHECK_EQ(e->len, 6);
    CHECK_EQ(e->data[0], WS_OP_TEXT);
    CHECK(memcmp(e->data + 1, "hello", 5) == 0);
    mbox_entry_free(e);
  }
  size_t n = ws_net_send(id, WS_OP_BINARY, false, "\x01\x02\x03", 3, &m);
  CHECK_EQ(n, 2 + 4 + 3);
  uint8_t buf[256];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_BINARY);
  CHECK(len == 3 && memcmp(buf, "\x01\x02\x03", 3) == 0);
  e = expect(WSE_DRAINED, 2000);
  if (e) {
    uint64_t d;
    memcpy(&d, e->data, 8);
    CHECK_EQ(d, n);
    mbox_entry_free(e);
  }
  /* a fragmented message with a ping in the middle */
  uint8_t f1[] = {0x01, 0x02, 'a', 'b'}, f2[] = {0x80, 0x02, 'c', 'd'};
  send(peer, f1, sizeof f1, MSG_NOSIGNAL);
  send_frame(peer, WS_OP_PING, "pp", 2);
  send(peer, f2, sizeof f2, MSG_NOSIGNAL);
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_PONG);
  CHECK(len == 2 && memcmp(buf, "pp", 2) == 0);
  e = expect(WSE_MESSAGE, 2000);
  if (e) {
    CHECK(e->len == 5 && memcmp(e->data + 1, "abcd", 4) == 0);
    mbox_entry_free(e);
  }
  ws_net_close(id, 4000, "done", 4);
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  CHECK(len == 6 && buf[0] == 0x0F && buf[1] == 0xA0 && memcmp(buf + 2, "done", 4) == 0);
  send_frame(peer, WS_OP_CLOSE, "\x0f\xa0ok", 4);
  e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 4000);
    mbox_entry_free(e);
  }
  close(peer);
  close(ls);
  check_quiet();
}

static void test_backpressure(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  ws_connect_opts *o = opts_for(port, "/");
  o->channel_capacity = 2;
  uint64_t id = open_conn(ls, port, o, &peer);
  for (int i = 0; i < 10; i++) send_frame(peer, WS_OP_TEXT, "m", 1);
  send_frame(peer, WS_OP_CLOSE, "\x03\xe8", 2);
  int got = 0;
  mbox_entry *e;
  while ((e = next_event(300)) != NULL) {
    CHECK_EQ(e->flags, WSE_MESSAGE);
    got++;
    mbox_entry_free(e);
  }
  CHECK_EQ(got, 2); /* out of credit: nothing more is read */
  for (int round = 0; round < 4; round++) {
    ws_net_credit(id, 2);
    for (int i = 0; i < 2; i++) {
      e = expect(WSE_MESSAGE, 2000);
      if (e) mbox_entry_free(e);
    }
    e = next_event(100);
    CHECK(e == NULL);
    if (e) mbox_entry_free(e);
  }
  ws_net_credit(id, 2); /* the close frame behind the last messages can now be read */
  e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1000);
    mbox_entry_free(e);
  }
  uint8_t buf[64];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE); /* the echo */
  close(peer);
  close(ls);
  check_quiet();
}

static void test_protocol_error(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  open_conn(ls, port, opts_for(port, "/"), &peer);
  uint8_t bad[] = {0x83, 0x00}; /* reserved opcode */
  send(peer, bad, sizeof bad, MSG_NOSIGNAL);
  mbox_entry *e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1002);
    mbox_entry_free(e);
  }
  uint8_t buf[128];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  CHECK(len >= 2 && (buf[0] << 8 | buf[1]) == 1002);
  char x;
  CHECK_EQ(recv(peer, &x, 1, 0), 0); /* dropped after the close frame */
  close(peer);
  close(ls);
  check_quiet();
}

static void test_read_limit_and_utf8(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  ws_connect_opts *o = opts_for(port, "/");
  o->read_limit = 100;
  open_conn(ls, port, o, &peer);
  char big[200];
  memset(big, 'a', sizeof big);
  send_frame(peer, WS_OP_BINARY, big, sizeof big);
  mbox_entry *e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1009);
    mbox_entry_free(e);
  }
  close(peer);
  open_conn(ls, port, opts_for(port, "/"), &peer);
  send_frame(peer, WS_OP_TEXT, "\xc3\x28", 2);
  e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1007);
    mbox_entry_free(e);
  }
  close(peer);
  close(ls);
  check_quiet();
}

static void test_failures(void) {
  uint16_t port;
  int ls = listen_on(&port);
  close(ls); /* nothing listens there now */
  ws_net_connect(&mb, 7, opts_for(port, "/"));
  mbox_entry *e = expect(WSE_FAIL, 2000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_TCP);
    CHECK_EQ(f.timeout, 0);
    CHECK_EQ(f.retryable, 1);
    mbox_entry_free(e);
  }
  /* a name goes through the resolver pool (localhost: /etc/hosts, no network needed) */
  ws_connect_opts *lo = ws_connect_opts_new();
  char url[64], uerr[URL_ERR_MAX];
  snprintf(url, sizeof url, "ws://localhost:%u/", (unsigned)port);
  if (url_parse(&lo->url, url, strlen(url), 0, uerr, sizeof uerr) < 0) abort();
  ws_net_connect(&mb, 7, lo);
  e = expect(WSE_FAIL, 5000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_TCP); /* resolved, then refused */
    mbox_entry_free(e);
  }
  /* a server that accepts and never answers: the dial deadline, in the handshake stage */
  ls = listen_on(&port);
  ws_connect_opts *o = opts_for(port, "/");
  o->dial_timeout_ns = 150000000;
  int64_t t0 = clock_mono_ns();
  ws_net_connect(&mb, 7, o);
  int peer = accept_peer(ls);
  e = expect(WSE_FAIL, 2000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_HANDSHAKE);
    CHECK_EQ(f.timeout, 1);
    CHECK(clock_mono_ns() - t0 >= 150000000);
    mbox_entry_free(e);
  }
  /* a 404 */
  ws_net_connect(&mb, 7, opts_for(port, "/"));
  int p2 = accept_peer(ls);
  char req[4096];
  recv(p2, req, sizeof req, 0);
  const char *r404 = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  send(p2, r404, strlen(r404), MSG_NOSIGNAL);
  e = expect(WSE_FAIL, 2000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_HANDSHAKE);
    CHECK_EQ(f.status, 404);
    mbox_entry_free(e);
  }
  close(p2);
  close(peer);
  close(ls);
  check_quiet();
}

static void test_abort(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  uint64_t id = open_conn(ls, port, opts_for(port, "/"), &peer);
  ws_net_abort(id);
  uint8_t buf[64];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  CHECK(len == 2 && (buf[0] << 8 | buf[1]) == 1001);
  send_frame(peer, WS_OP_TEXT, "late", 4); /* nothing is posted after an abort */
  send_frame(peer, WS_OP_CLOSE, "\x03\xe9", 2);
  close(peer); /* the server closes TCP first (RFC 6455 §7.1.1): the client is done */
  close(ls);
  check_quiet();
}

static void test_keepalive(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  ws_connect_opts *o = opts_for(port, "/");
  o->ping_interval_ns = 50000000;
  o->ping_timeout_ns = 100000000;
  open_conn(ls, port, o, &peer);
  uint8_t buf[64];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_PING);
  send_frame(peer, WS_OP_PONG, buf, len);
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_PING); /* idle again: next ping */
  /* no pong this time: 1011 */
  mbox_entry *e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1011);
    mbox_entry_free(e);
  }
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  close(peer);
  close(ls);
  check_quiet();
}

/* Raw deflate of data, sync-flushed, 00 00 ff ff removed (RFC 7692 §7.2.1); one stream
 * (context takeover) when z is reused. */
static size_t deflate_msg(z_stream *z, const void *data, size_t len, uint8_t *out, size_t cap) {
  z->next_in = (Bytef *)data;
  z->avail_in = (uInt)len;
  z->next_out = out;
  z->avail_out = (uInt)cap;
  CHECK_EQ(deflate(z, Z_SYNC_FLUSH), Z_OK);
  size_t n = cap - z->avail_out;
  CHECK(n >= 4 && memcmp(out + n - 4, "\x00\x00\xff\xff", 4) == 0);
  return n - 4;
}

static void send_frame_ex(int c, uint8_t b0, const void *data, size_t len) {
  uint8_t h[10];
  size_t hl = 2;
  h[0] = b0;
  if (len < 126) {
    h[1] = (uint8_t)len;
  } else {
    h[1] = 126;
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    hl = 4;
  }
  send(c, h, hl, MSG_NOSIGNAL);
  if (len) send(c, data, len, MSG_NOSIGNAL);
}

/* permessage-deflate on the net side: the offer goes out, WSE_OPEN reports what was agreed,
 * compressed messages (whole, fragmented, with the server's context) are inflated, and one
 * that inflates past read_limit fails with 1009. */
static void test_compression(void) {
  uint16_t port;
  int ls = listen_on(&port), peer;
  ws_connect_opts *o = opts_for(port, "/");
  o->compression = 1;
  o->read_limit = 100000;
  uint64_t id = ws_net_connect(&mb, 7, o);
  peer = accept_peer(ls);
  upgrade_ext(peer, NULL, "permessage-deflate; server_max_window_bits=10");
  CHECK(strstr(last_request, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12") != NULL);
  mbox_entry *e = expect(WSE_OPEN, 2000);
  if (e) {
    ws_open_event oe;
    memcpy(&oe, e->data, sizeof oe);
    CHECK(oe.pmd.enabled);
    CHECK_EQ(oe.pmd.server_max_window_bits, 10);
    CHECK_EQ(oe.pmd.client_max_window_bits, 12);
    CHECK(!oe.pmd.server_no_context_takeover && !oe.pmd.client_no_context_takeover);
    CHECK_EQ(oe.protocol_len, 0);
    mbox_entry_free(e);
  }
  z_stream z;
  memset(&z, 0, sizeof z);
  CHECK_EQ(deflateInit2(&z, 6, Z_DEFLATED, -10, 8, Z_DEFAULT_STRATEGY), Z_OK);
  static uint8_t text[30000], out[40000];
  for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)"compress me! "[i % 13];
  size_t n = deflate_msg(&z, text, sizeof text, out, sizeof out);
  send_frame_ex(peer, 0x80 | 0x40 | WS_OP_TEXT, out, n); /* one frame, RSV1 */
  e = expect(WSE_MESSAGE, 2000);
  if (e) {
    CHECK_EQ(e->len, 1 + sizeof text);
    CHECK(e->data[0] == WS_OP_TEXT && memcmp(e->data + 1, text, sizeof text) == 0);
    mbox_entry_free(e);
  }
  /* the same again: with the server's context it is a few bytes; in three fragments, RSV1 on
   * the first only, a ping between them */
  n = deflate_msg(&z, text, sizeof text, out, sizeof out);
  CHECK(n < 100);
  send_frame_ex(peer, 0x40 | WS_OP_BINARY, out, 1);
  send_frame(peer, WS_OP_PING, "p", 1);
  send_frame_ex(peer, WS_OP_CONT, out + 1, 1);
  send_frame_ex(peer, 0x80 | WS_OP_CONT, out + 2, n - 2);
  uint8_t buf[256];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_PONG);
  e = expect(WSE_MESSAGE, 2000);
  if (e) {
    CHECK_EQ(e->len, 1 + sizeof text);
    CHECK(e->data[0] == WS_OP_BINARY && memcmp(e->data + 1, text, sizeof text) == 0);
    mbox_entry_free(e);
  }
  /* 200 KB of zeros compress to a few hundred bytes and inflate past read_limit: 1009 */
  static uint8_t zeros[200000];
  n = deflate_msg(&z, zeros, sizeof zeros, out, sizeof out);
  send_frame_ex(peer, 0x80 | 0x40 | WS_OP_BINARY, out, n);
  e = expect(WSE_CLOSED, 2000);
  if (e) {
    CHECK_EQ(closed_code(e), 1009);
    mbox_entry_free(e);
  }
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  CHECK(len >= 2 && buf[0] == 0x03 && buf[1] == 0xF1);
  deflateEnd(&z);
  close(peer);
  close(ls);
  check_quiet();
  (void)id;
}

/* Reconnect support: the back-off wait before dialing, the initial read credits, the 101's
 * status and headers in WSE_OPEN, the shared statistics, the BY_PEER flag of a server's close. */
static void test_redial_support(void) {
  uint16_t port;
  int ls = listen_on(&port);
  ws_connect_opts *o = opts_for(port, "/");
  o->channel_capacity = 4;
  o->initial_credits = 1;
  o->start_delay_ns = 150000000;
  ws_stats *st = ws_stats_new();
  ws_stats_retain(st);
  o->stats = st;
  int64_t t0 = clock_mono_ns();
  uint64_t id = ws_net_connect(&mb, 7, o);
  int peer = accept_peer(ls);
  CHECK(clock_mono_ns() - t0 >= 140000000); /* not dialed before the back-off */
  upgrade(peer, NULL);
  mbox_entry *e = expect(WSE_OPEN, 2000);
  if (e) {
    ws_open_event oe;
    memcpy(&oe, e->data, sizeof oe);
    CHECK_EQ(oe.status, 101);
    const char *h = e->data + sizeof oe + oe.protocol_len;
    CHECK_EQ(sizeof oe + oe.protocol_len + oe.headers_len, e->len);
    CHECK(memmem(h, oe.headers_len, "Upgrade\0websocket\0", 18) != NULL);
    CHECK(memmem(h, oe.headers_len, "Sec-WebSocket-Accept\0", 21) != NULL);
    mbox_entry_free(e);
  }
  send_frame(peer, WS_OP_TEXT, "one", 3);
  send_frame(peer, WS_OP_TEXT, "two", 3);
  e = expect(WSE_MESSAGE, 2000);
  if (e) mbox_entry_free(e);
  CHECK(next_event(150) == NULL); /* one credit: the second message waits */
  ws_net_credit(id, 1);
  e = expect(WSE_MESSAGE, 2000);
  if (e) {
    CHECK(e->len == 4 && memcmp(e->data + 1, "two", 3) == 0);
    mbox_entry_free(e);
  }
  ws_net_credit(id, 2); /* out of credit, the close frame would wait too */
  send_frame(peer, WS_OP_CLOSE, "\x03\xe8", 2); /* 1000 from the server */
  e = expect(WSE_CLOSED, 2000);
  if (e) {
    ws_closed_event ce;
    memcpy(&ce, e->data, sizeof ce);
    CHECK_EQ(ce.code, 1000);
    CHECK(ce.flags & WS_CLOSED_BY_PEER);
    mbox_entry_free(e);
  }
  uint8_t buf[256];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  close(peer);
  close(ls);
  check_quiet();
  CHECK_EQ(atomic_load(&st->messages_in), 2);
  CHECK_EQ(atomic_load(&st->frames_in), 3);
  CHECK_EQ(atomic_load(&st->frames_out), 1); /* the close echo */
  CHECK(atomic_load(&st->bytes_in) > 100 && atomic_load(&st->bytes_out) > 100);
  CHECK_EQ(atomic_load(&st->refs), 1); /* the connection let its reference go */
  ws_stats_release(st);
}

/* A fake HTTP proxy: reads the CONNECT request into req, answers with answer. */
static void proxy_answer(int c, char *req, size_t cap, const char *answer) {
  size_t n = 0;
  while (n < cap - 1) {
    ssize_t r = recv(c, req + n, cap - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = 0;
    if (strstr(req, "\r\n\r\n")) break;
  }
  send(c, answer, strlen(answer), MSG_NOSIGNAL);
}

static ws_connect_opts *proxied(uint16_t proxy_port, const char *cred) {
  ws_connect_opts *o = ws_connect_opts_new();
  char url[128], err[URL_ERR_MAX];
  const char *target = "ws://server.invalid:9000/chat"; /* never resolved here: the proxy does */
  if (url_parse(&o->url, target, strlen(target), 0, err, sizeof err) < 0) abort();
  snprintf(url, sizeof url, "http://%s127.0.0.1:%u", cred, (unsigned)proxy_port);
  if (url_parse(&o->proxy, url, strlen(url), URL_PROXY, err, sizeof err) < 0) abort();
  o->use_proxy = true;
  return o;
}

static void test_proxy(void) {
  uint16_t port;
  int ls = listen_on(&port);
  char req[2048];
  /* the tunnel opens; the upgrade goes through it */
  uint64_t id = ws_net_connect(&mb, 7, proxied(port, "alice:s3cret@"));
  int peer = accept_peer(ls);
  proxy_answer(peer, req, sizeof req, "HTTP/1.1 200 Connection established\r\n\r\n");
  const char *want = "CONNECT server.invalid:9000 HTTP/1.1\r\nHost: server.invalid:9000\r\n";
  CHECK(strncmp(req, want, strlen(want)) == 0);
  CHECK(strstr(req, "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n") != NULL);
  upgrade(peer, NULL);
  CHECK(strncmp(last_request, "GET /chat HTTP/1.1\r\n", 20) == 0);
  CHECK(strstr(last_request, "Host: server.invalid:9000\r\n") != NULL);
  CHECK(strstr(last_request, "Proxy-Authorization") == NULL);
  mbox_entry *e = expect(WSE_OPEN, 2000);
  if (e) mbox_entry_free(e);
  ws_net_close(id, 1000, "", 0);
  uint8_t buf[256];
  size_t len;
  CHECK_EQ(read_frame(peer, buf, sizeof buf, &len), WS_OP_CLOSE);
  send_frame(peer, WS_OP_CLOSE, "\x03\xe8", 2);
  e = expect(WSE_CLOSED, 2000);
  if (e) mbox_entry_free(e);
  close(peer);
  /* refused: stage proxy, the status, not retryable */
  ws_net_connect(&mb, 7, proxied(port, ""));
  peer = accept_peer(ls);
  proxy_answer(peer, req, sizeof req, "HTTP/1.1 407 Proxy Authentication Required\r\n"
               "Proxy-Authenticate: Basic realm=\"test\"\r\n\r\n");
  CHECK(strstr(req, "Proxy-Authorization") == NULL);
  e = expect(WSE_FAIL, 2000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_PROXY);
    CHECK_EQ(f.status, 407);
    CHECK(!f.retryable);
    CHECK(memmem(e->data + sizeof f, f.msg_len, "realm=\"test\"", 12) != NULL);
    mbox_entry_free(e);
  }
  close(peer);
  /* the proxy hangs up before answering */
  ws_net_connect(&mb, 7, proxied(port, ""));
  peer = accept_peer(ls);
  proxy_answer(peer, req, sizeof req, "");
  close(peer);
  e = expect(WSE_FAIL, 2000);
  if (e) {
    ws_fail_event f;
    memcpy(&f, e->data, sizeof f);
    CHECK_EQ(f.stage, WS_STAGE_PROXY);
    CHECK(f.retryable);
    mbox_entry_free(e);
  }
  close(ls);
  check_quiet();
}

static void run_all(const char *backend) {
  setenv("WISP_IO_BACKEND", backend, 1);
  if (net_start() != 0) {
    fprintf(stderr, "backend %s unavailable here: skipped\n", backend);
    return;
  }
  CHECK_STR(net_backend_name(), backend);
  test_echo_and_close();
  test_backpressure();
  test_protocol_error();
  test_read_limit_and_utf8();
  test_failures();
  test_abort();
  test_keepalive();
  test_compression();
  test_redial_support();
  test_proxy();
  net_stop();
}

static void test_epoll(void) { run_all("epoll"); }
static void test_uring(void) { run_all("io_uring"); }

static void setup(void) { mbox_init(&mb, notify, NULL); }

TEST_MAIN(setup, test_epoll, test_uring)
