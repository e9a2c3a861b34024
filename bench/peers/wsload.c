/* bench/peers/wsload.c — the load server of the benchmarks: one epoll thread, plain or TLS
 * (OpenSSL), that floods pre-framed messages, echoes, holds idle connections, or floods
 * pre-compressed permessage-deflate messages. It never builds a frame while flooding: every
 * message stream is a batch of ready frames made once per process and written straight from
 * memory, so the server spends its time in send() and stays ahead of every client it feeds.
 *
 * Usage: wsload [--port P] [--tls CERT KEY]      prints "READY <port>" once it listens
 *
 * Paths (query parameters in brackets; n = message count, size = payload bytes):
 *   /flood?n=N&size=S[&go=1]   N binary messages of S bytes; with go=1 the flood starts when
 *                              the first data message from the client arrives (so clients
 *                              start their clock before any byte is sent)
 *   /echo                      every data frame comes back, unmasked, same opcode
 *   /idle                      nothing is sent; pings are answered
 *   /deflate?n=N[&go=1]        N text messages of 1 KiB JSON, compressed with permessage-deflate
 *                              (RFC 7692) in the mode the client offered; a client that offers
 *                              no permessage-deflate gets close 4000 "permessage-deflate not
 *                              offered" right after the upgrade
 * After its messages the server waits; a client close frame is answered and the server closes
 * TCP. Pings are answered in every mode. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK_TARGET (512u * 1024u) /* bytes of frames per batch */
#define MAX_REQ 16384               /* HTTP upgrade request limit */
#define MAX_CLIENT_FRAME (16u << 20)
#define JSON_MSGS 256 /* distinct JSON messages in the deflate cycle */
#define JSON_SIZE 1024

enum { M_FLOOD, M_ECHO, M_IDLE, M_DEFLATE };
enum { ST_TLS, ST_HTTP, ST_WS };

/* A batch: nframes ready frames back to back; off[k] = bytes of the first k frames. */
typedef struct batch {
  int kind; /* M_FLOOD: size; M_DEFLATE: wbits, noctx */
  size_t size;
  int wbits, noctx;
  uint8_t *data;
  size_t *off;
  size_t nframes;
  struct batch *next;
} batch;

typedef struct conn {
  int fd;
  SSL *ssl;
  int state, events;
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *out; /* pending handshake, echo and control bytes; written before flood bytes */
  size_t out_len, out_off, out_cap;
  int mode, go_wait, closing;
  uint64_t n, flood_left; /* messages not yet put in a chunk */
  size_t size;
  const batch *fb;
  size_t pos, chunk_len; /* progress in the current chunk of fb->data */
  int pmd, wbits, noctx;
} conn;

static int g_ep;
static SSL_CTX *g_tls;
static batch *g_batches;

static void die(const char *m) {
  perror(m);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) { fputs("wsload: out of memory\n", stderr); exit(1); }
  return q;
}

static size_t frame_header(uint8_t *h, uint8_t b0, size_t len) {
  h[0] = b0;
  if (len < 126) { h[1] = (uint8_t)len; return 2; }
  if (len < 65536) { h[1] = 126; h[2] = (uint8_t)(len >> 8); h[3] = (uint8_t)len; return 4; }
  h[1] = 127;
  for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

/* ---- batches ----------------------------------------------------------------------------- */

static batch *batch_new(int kind, size_t size, int wbits, int noctx, size_t nframes, size_t cap) {
  batch *b = calloc(1, sizeof *b);
  if (!b) die("calloc");
  b->kind = kind; b->size = size; b->wbits = wbits; b->noctx = noctx;
  b->data = xrealloc(NULL, cap);
  b->off = xrealloc(NULL, (nframes + 1) * sizeof *b->off);
  b->off[0] = 0;
  b->next = g_batches;
  g_batches = b;
  return b;
}

static const batch *flood_batch(size_t size) {
  for (batch *b = g_batches; b; b = b->next)
    if (b->kind == M_FLOOD && b->size == size) return b;
  uint8_t h[10];
  size_t hl = frame_header(h, 0x82, size), fl = hl + size;
  size_t nf = CHUNK_TARGET / fl;
  if (nf < 4) nf = 4;
  batch *b = batch_new(M_FLOOD, size, 0, 0, nf, nf * fl);
  for (size_t k = 0; k < nf; k++) {
    uint8_t *p = b->data + k * fl;
    memcpy(p, h, hl);
    for (size_t i = 0; i < size; i++) p[hl + i] = (uint8_t)('a' + (i + k) % 26);
    b->off[k + 1] = (k + 1) * fl;
  }
  b->nframes = nf;
  return b;
}

static uint64_t g_rs = 88172645463325252ull;
static unsigned rnd(void) {
  g_rs ^= g_rs << 13; g_rs ^= g_rs >> 7; g_rs ^= g_rs << 17;
  return (unsigned)(g_rs >> 11);
}

/* A 1 KiB JSON message: a market-data update with a list of trades, padded with spaces. */
static void json_message(char *o, unsigned seq) {
  static const char *syms[] = {"BTC-USD", "ETH-USD", "SOL-USD", "ADA-EUR", "DOGE-USD", "XRP-USD"};
  int n = snprintf(o, JSON_SIZE, "{\"type\":\"update\",\"seq\":%u,\"symbol\":\"%s\",\"trades\":[", seq,
                   syms[rnd() % 6]);
  for (int k = 0; n < JSON_SIZE - 190; k++)
    n += snprintf(o + n, (size_t)(JSON_SIZE - n),
                  "%s{\"id\":%u,\"price\":\"%u.%02u\",\"size\":\"0.%05u\",\"side\":\"%s\","
                  "\"time\":\"2024-03-%02uT12:%02u:%02u.%06uZ\"}",
                  k ? "," : "", 100000000 + rnd() % 1000000, 20000 + rnd() % 30000, rnd() % 100,
                  rnd() % 100000, rnd() % 2 ? "buy" : "sell", 1 + rnd() % 28, rnd() % 60, rnd() % 60,
                  rnd() % 1000000);
  n += snprintf(o + n, (size_t)(JSON_SIZE - n), "]");
  while (n < JSON_SIZE - 1) o[n++] = ' ';
  o[JSON_SIZE - 1] = '}';
}

/* The deflate cycle: JSON_MSGS messages compressed as one stream (context takeover) or each
 * on its own (noctx). Replaying the cycle is valid: a message only refers back to bytes of
 * the cycle that precede it, which sit at the same distance in every round. */
static const batch *deflate_batch(int wbits, int noctx) {
  for (batch *b = g_batches; b; b = b->next)
    if (b->kind == M_DEFLATE && b->wbits == wbits && b->noctx == noctx) return b;
  size_t cap = JSON_MSGS * (JSON_SIZE + 64);
  batch *b = batch_new(M_DEFLATE, JSON_SIZE, wbits, noctx, JSON_MSGS, cap);
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fputs("wsload: deflateInit2 failed\n", stderr);
    exit(1);
  }
  uint64_t saved = g_rs;
  g_rs = 0x9E3779B97F4A7C15ull; /* the same messages in every batch */
  char msg[JSON_SIZE];
  uint8_t tmp[JSON_SIZE + 64];
  size_t at = 0;
  for (unsigned k = 0; k < JSON_MSGS; k++) {
    json_message(msg, k);
    if (noctx) deflateReset(&z);
    z.next_in = (Bytef *)msg; z.avail_in = JSON_SIZE;
    z.next_out = tmp; z.avail_out = sizeof tmp;
    if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in || z.avail_out == 0) {
      fputs("wsload: deflate failed\n", stderr);
      exit(1);
    }
    size_t clen = sizeof tmp - z.avail_out - 4; /* strip 00 00 ff ff (RFC 7692 §7.2.1) */
    at += frame_header(b->data + at, 0xC1, clen);
    memcpy(b->data + at, tmp, clen);
    at += clen;
    b->off[k + 1] = at;
  }
  deflateEnd(&z);
  g_rs = saved;
  b->nframes = JSON_MSGS;
  return b;
}

/* ---- connection I/O ---------------------------------------------------------------------- */

static void set_events(conn *c, int ev) {
  if (ev == c->events) return;
  struct epoll_event e = {.events = (uint32_t)ev, .data.ptr = c};
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl");
  c->events = ev;
}

static void conn_free(conn *c) {
  epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
  if (c->ssl) SSL_free(c->ssl);
  close(c->fd);
  free(c->in);
  free(c->out);
  free(c);
}

/* > 0 bytes moved; 0 would block; -1 closed or failed. */
static ssize_t io_read(conn *c, void *p, size_t n) {
  if (!c->ssl) {
    ssize_t r = recv(c->fd, p, n, 0);
    if (r > 0) return r;
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    return -1;
  }
  int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static ssize_t io_write(conn *c, const void *p, size_t n) {
  if (!c->ssl) {
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  }
  int r = SSL_write(c->ssl, p, n > (1u << 20) ? (1 << 20) : (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void out_append(conn *c, const void *p, size_t n) {
  if (c->out_off && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + n > c->out_cap) {
    c->out_cap = (c->out_len + n) * 2;
    c->out = xrealloc(c->out, c->out_cap);
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

static void out_frame(conn *c, uint8_t b0, const uint8_t *p, size_t n) {
  uint8_t h[10];
  out_append(c, h, frame_header(h, b0, n));
  if (n) out_append(c, p, n);
}

static int flood_active(const conn *c) { return c->fb && (c->flood_left || c->pos < c->chunk_len); }

/* Writes pending bytes, then flood chunks, until the socket would block. -1: drop it. */
static int pump(conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
    if (w < 0) return -1;
    if (w == 0) return 0;
    c->out_off += (size_t)w;
  }
  while (!c->go_wait && flood_active(c)) {
    if (c->pos == c->chunk_len) {
      uint64_t k = c->flood_left < c->fb->nframes ? c->flood_left : c->fb->nframes;
      c->flood_left -= k;
      c->chunk_len = c->fb->off[k];
      c->pos = 0;
    }
    ssize_t w = io_write(c, c->fb->data + c->pos, c->chunk_len - c->pos);
    if (w < 0) return -1;
    if (w == 0) return 0;
    c->pos += (size_t)w;
  }
  if (c->closing) return -1; /* everything written, close frame included */
  return 0;
}

static int pending(const conn *c) {
  return c->out_off < c->out_len || (!c->go_wait && flood_active(c));
}

/* ---- the upgrade ------------------------------------------------------------------------- */

static const char *find_header(const char *req, const char *name, char *val, size_t cap) {
  size_t nl = strlen(name);
  val[0] = 0;
  size_t used = 0;
  for (const char *l = strstr(req, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (strncasecmp(h, name, nl) || h[nl] != ':') continue;
    const char *v = h + nl + 1, *e = strstr(v, "\r\n");
    while (*v == ' ' || *v == '\t') v++;
    size_t len = (size_t)(e - v);
    if (used + len + 2 >= cap) continue;
    if (used) { val[used++] = ','; }
    memcpy(val + used, v, len);
    used += len;
    val[used] = 0;
  }
  return used ? val : NULL;
}

static uint64_t query_u64(const char *q, const char *key, uint64_t dflt) {
  size_t kl = strlen(key);
  for (const char *p = q; p && *p;) {
    if (!strncmp(p, key, kl) && p[kl] == '=') return strtoull(p + kl + 1, NULL, 10);
    p = strchr(p, '&');
    if (p) p++;
  }
  return dflt;
}

/* The first permessage-deflate offer: 1 accepted (wbits, noctx and the response set), 0 none. */
static int pmd_negotiate(const char *ext, int *wbits, int *noctx, char *resp, size_t cap) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", ext);
  for (char *save = NULL, *offer = strtok_r(buf, ",", &save); offer; offer = strtok_r(NULL, ",", &save)) {
    char *s2 = NULL, *tok = strtok_r(offer, ";", &s2);
    while (tok && (*tok == ' ' || *tok == '\t')) tok++;
    if (!tok || strncmp(tok, "permessage-deflate", 18) || (tok[18] && tok[18] != ' ')) continue;
    int wb = 15, nc = 0, cnc = 0, ok = 1;
    for (char *p = strtok_r(NULL, ";", &s2); p; p = strtok_r(NULL, ";", &s2)) {
      while (*p == ' ' || *p == '\t') p++;
      size_t l = strcspn(p, " \t=");
      if (l == 26 && !strncmp(p, "server_no_context_takeover", l)) nc = 1;
      else if (l == 26 && !strncmp(p, "client_no_context_takeover", l)) cnc = 1;
      else if (l == 22 && !strncmp(p, "server_max_window_bits", l)) {
        char *v = strchr(p, '=');
        if (!v) { ok = 0; break; }
        v++;
        while (*v == ' ' || *v == '"') v++;
        wb = atoi(v);
        if (wb < 9 || wb > 15) { ok = 0; break; } /* zlib has no raw 8-bit window */
      } else if (l == 22 && !strncmp(p, "client_max_window_bits", l)) {
      } else { ok = 0; break; }
    }
    if (!ok) continue;
    *wbits = wb; *noctx = nc;
    char bits[40] = "";
    if (wb != 15) snprintf(bits, sizeof bits, "; server_max_window_bits=%d", wb);
    snprintf(resp, cap, "Sec-WebSocket-Extensions: permessage-deflate%s%s%s\r\n",
             nc ? "; server_no_context_takeover" : "", cnc ? "; client_no_context_takeover" : "", bits);
    return 1;
  }
  return 0;
}

static void http_error(conn *c, const char *status) {
  char r[256];
  int n = snprintf(r, sizeof r, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
  out_append(c, r, (size_t)n);
  c->closing = 1;
}

/* Handles the request in c->in (complete up to and including the blank line at `end`). */
static void upgrade(conn *c, size_t end) {
  char *req = (char *)c->in;
  char key[256], ext[4096], resp[1024], pmd[256] = "";
  if (strncmp(req, "GET ", 4)) return http_error(c, "405 Method Not Allowed");
  const char *sp = strchr(req + 4, ' ');
  char target[512];
  if (!sp || (size_t)(sp - req - 4) >= sizeof target) return http_error(c, "400 Bad Request");
  memcpy(target, req + 4, (size_t)(sp - req - 4));
  target[sp - req - 4] = 0;
  char *path = target, *q = strchr(target, '?');
  if (q) *q++ = 0;
  if (!strcmp(path, "/flood")) c->mode = M_FLOOD;
  else if (!strcmp(path, "/echo")) c->mode = M_ECHO;
  else if (!strcmp(path, "/idle")) c->mode = M_IDLE;
  else if (!strcmp(path, "/deflate")) c->mode = M_DEFLATE;
  else return http_error(c, "404 Not Found");
  const char *hdrs = sp;
  if (!find_header(hdrs, "Sec-WebSocket-Key", key, sizeof key)) return http_error(c, "400 Bad Request");
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char kg[320];
  int kl = snprintf(kg, sizeof kg, "%s%s", key, guid);
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned shalen = 0;
  EVP_Digest(kg, (size_t)kl, sha, &shalen, EVP_sha1(), NULL);
  char accept[64];
  EVP_EncodeBlock((unsigned char *)accept, sha, (int)shalen);
  int offered = 0;
  if (c->mode == M_DEFLATE && find_header(hdrs, "Sec-WebSocket-Extensions", ext, sizeof ext))
    offered = pmd_negotiate(ext, &c->wbits, &c->noctx, pmd, sizeof pmd);
  c->n = q ? query_u64(q, "n", 0) : 0;
  c->size = q ? (size_t)query_u64(q, "size", 16) : 16;
  c->go_wait = q ? query_u64(q, "go", 0) != 0 : 0;
  if (c->mode == M_FLOOD && (c->size > (64u << 20))) return http_error(c, "400 Bad Request");
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                   accept, pmd);
  out_append(c, resp, (size_t)n);
  c->state = ST_WS;
  memmove(c->in, c->in + end, c->in_len - end);
  c->in_len -= end;
  if (c->mode == M_DEFLATE && !offered) {
    static const char why[] = "\x0f\xa0permessage-deflate not offered"; /* 4000 */
    out_frame(c, 0x88, (const uint8_t *)why, sizeof why - 1);
    c->closing = 1;
    return;
  }
  if (c->mode == M_FLOOD) c->fb = flood_batch(c->size);
  if (c->mode == M_DEFLATE) c->fb = deflate_batch(c->wbits, c->noctx);
  c->flood_left = c->fb ? c->n : 0;
}

/* ---- client frames ----------------------------------------------------------------------- */

/* Consumes whole client frames from c->in. -1: drop the connection. */
static int frames(conn *c) {
  size_t at = 0;
  while (c->in_len - at >= 2) {
    uint8_t *p = c->in + at;
    uint8_t b0 = p[0], op = b0 & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t hl = 2;
    if (!(p[1] & 0x80)) return -1; /* client frames are masked */
    if (len == 126) {
      if (c->in_len - at < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hl = 4;
    } else if (len == 127) {
      if (c->in_len - at < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      hl = 10;
    }
    if (len > MAX_CLIENT_FRAME) return -1;
    if (c->in_len - at < hl + 4 + len) break;
    const uint8_t *mask = p + hl;
    uint8_t *pl = p + hl + 4;
    for (uint64_t i = 0; i < len; i++) pl[i] ^= mask[i & 3];
    at += hl + 4 + (size_t)len;
    if (op == 0x8) { /* close: answer with the same code, then close TCP */
      if (flood_active(c)) return -1; /* mid-flood: no frame boundary to stop at */
      out_frame(c, 0x88, pl, len >= 2 ? 2 : 0);
      c->closing = 1;
      c->fb = NULL;
      break;
    } else if (op == 0x9) {
      out_frame(c, 0x8A, pl, (size_t)len);
    } else if (op == 0xA) {
    } else if (op <= 0x2) {
      if (c->mode == M_ECHO) out_frame(c, b0 & 0x8f, pl, (size_t)len);
      else if (c->go_wait && (b0 & 0x80)) c->go_wait = 0;
    } else {
      return -1;
    }
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
  return 0;
}

/* ---- events ------------------------------------------------------------------------------ */

static void on_event(conn *c, uint32_t ev) {
  if (ev & (EPOLLERR)) { conn_free(c); return; }
  if (c->state == ST_TLS) {
    int r = SSL_accept(c->ssl);
    if (r == 1) {
      c->state = ST_HTTP;
    } else {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) { set_events(c, EPOLLIN); return; }
      if (e == SSL_ERROR_WANT_WRITE) { set_events(c, EPOLLIN | EPOLLOUT); return; }
      conn_free(c);
      return;
    }
  }
  for (;;) {
    if (c->in_cap - c->in_len < 16384) {
      c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
      c->in = xrealloc(c->in, c->in_cap);
    }
    ssize_t r = io_read(c, c->in + c->in_len, c->in_cap - c->in_len - 1);
    if (r < 0) { conn_free(c); return; }
    if (r == 0) break;
    c->in_len += (size_t)r;
    if (c->state == ST_HTTP) {
      c->in[c->in_len] = 0;
      char *e = strstr((char *)c->in, "\r\n\r\n");
      if (e) upgrade(c, (size_t)(e - (char *)c->in) + 4);
      else if (c->in_len > MAX_REQ) http_error(c, "431 Request Header Fields Too Large");
      if (c->closing) break;
    }
    if (c->state == ST_WS && !c->closing && frames(c) < 0) { conn_free(c); return; }
    if (c->in_len > MAX_CLIENT_FRAME + 16) { conn_free(c); return; }
  }
  if (pump(c) < 0) { conn_free(c); return; }
  set_events(c, pending(c) ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE) { fputs("wsload: out of file descriptors\n", stderr); return; }
      die("accept4");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (!c) die("calloc");
    c->fd = fd;
    c->state = ST_HTTP;
    if (g_tls) {
      c->ssl = SSL_new(g_tls);
      if (!c->ssl) die("SSL_new");
      SSL_set_fd(c->ssl, fd);
      SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      c->state = ST_TLS;
    }
    c->events = EPOLLIN;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
  }
}

static void tls_setup(const char *cert, const char *key) {
  g_tls = SSL_CTX_new(TLS_server_method());
  if (!g_tls || SSL_CTX_use_certificate_chain_file(g_tls, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(g_tls, key, SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    fprintf(stderr, "wsload: cannot load %s / %s\n", cert, key);
    exit(1);
  }
  /* every client gets the same suite, the one with hardware support on every x86-64 */
  SSL_CTX_set_ciphersuites(g_tls, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_options(g_tls, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  SSL_CTX_set_min_proto_version(g_tls, TLS1_2_VERSION);
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tls") && i + 2 < argc) { tls_setup(argv[i + 1], argv[i + 2]); i += 2; }
    else { fprintf(stderr, "usage: %s [--port P] [--tls CERT KEY]\n", argv[0]); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(lfd, 65535) < 0) die("listen");
  socklen_t al = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &al);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) die("epoll_create1");
  struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &le) < 0) die("epoll_ctl");
  printf("READY %d\n", ntohs(a.sin_port));
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(g_ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) on_accept(lfd);
      else on_event(evs[i].data.ptr, evs[i].events);
    }
  }
}
