/* net/ws_conn.c — WebSocket client connections on the net thread, once dialed (ws_dial.c):
 * frames in and out, TLS records (wss), inflation of compressed messages, back-pressure,
 * keepalive, deadlines, the closing handshake, the commands of ws_client.h and the events
 * posted back (see ws_client.h and ws_conn.h for the contract).
 *
 * Decisions:
 *  - Reading: one receive in flight per connection, into a pool buffer (backend.h); the bytes
 *    are parsed at once and the buffer handed back, so a connection owns a receive buffer only
 *    while its bytes are parsed. Out of read credit, parsing stops at that point, the unparsed
 *    rest (at most one buffer) is stashed and no receive is armed until credits return.
 *  - A message is assembled directly in the MB_NET entry that carries it (sized from the frame
 *    header, grown by doubling across fragments, never past read_limit): one copy from the
 *    receive buffer to the mailbox.
 *  - Writing: frames are queued as they come (user frames arrive built and masked by the
 *    binding, so the per-byte work happens on the workers); at the end of the loop turn the
 *    whole queue goes out in one sendmsg of up to WS_IOV_MAX frames.
 *  - Pings are answered with a pong carrying their payload; while a pong waits in the queue a
 *    newer ping rewrites it (RFC 6455 §5.5.3 allows answering only the latest), so a peer that
 *    floods pings and never reads cannot grow the queue.
 *  - Closing: after a close frame is sent or received, data frames are discarded and nothing
 *    but a close echo is sent. The connection reports WSE_CLOSED as soon as the peer's close
 *    frame is in, then waits for the server to close TCP (RFC 6455 §7.1.1) until the close
 *    deadline (WS_CLOSE_TIMEOUT_NS from the start of the closing) and drops it.
 *  - Failing (protocol error, read limit, invalid UTF-8, read or ping timeout): the close frame
 *    with the code is queued, WSE_CLOSED reports that code at once, and TCP is dropped as soon
 *    as the frame is written (or at the close deadline). A write timeout or a broken socket
 *    drops at once and reports 1006.
 *  - read_timeout and the keepalive count only while the connection is reading: a connection
 *    paused because the actor does not consume is not idle, and its clocks restart when
 *    credits come back.
 *  - wss: the socket carries only what the TLS engine (net/tls.h) makes and takes. Received
 *    ciphertext goes into the engine and plaintext comes out 16 KiB at a time into the same
 *    parser; out of credit, the pump stops and the rest stays in the engine (at most one
 *    receive buffer of ciphertext). Frames stay in the write queue as plaintext and are
 *    encrypted at flush time while the engine holds less than WS_TLS_OUT_MAX of ciphertext, so
 *    back-pressure, write_timeout and the drained counts work as over ws://; a frame leaves
 *    the queue once the ciphertext it became has been written. When the connection drops its
 *    TCP the engine's close_notify goes out in one non-blocking send if no write is in flight
 *    (it is not waited for: after the closing handshake nothing depends on it).
 *  - permessage-deflate: this side only inflates (the binding compresses on the worker).
 *    Compressed messages are inflated into the mailbox entry as the frames arrive, UTF-8 is
 *    checked on the inflated bytes, read_limit counts inflated bytes (pmd_decompress stops at
 *    read_limit + 1 and the connection fails with 1009).
 *  - Statistics (ws_client.h ws_stats): this thread is the only writer, so a counter is a
 *    relaxed load and store, not a locked add; bytes are counted per completed socket
 *    operation, frames per chunk written and per header parsed, the round trip from a ping's
 *    write to the next pong.
 *  - A reconnect's back-off is the WAIT state: the connection exists (close and abort work on
 *    it) and its deadline starts the dial; dial_timeout counts from there. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "core/duration.h"
#include "net/deflate.h"
#include "net/tls.h"
#include "net/ws_conn.h"

enum { K_CONNECT = 1, K_CLOSE, K_CREDIT, K_ABORT };

typedef struct ws_cmd {
  net_call call;
  int kind;
  uint64_t conn;
  mailbox *mb;           /* K_CONNECT */
  uint64_t chan;
  ws_connect_opts *opts;
  uint32_t n;            /* K_CREDIT */
  int code;              /* K_CLOSE */
  size_t reason_len;
  char reason[WS_MAX_CLOSE_REASON];
} ws_cmd;

/* Net thread state, set up by the first command of a loop run and dropped when it stops. */
static struct {
  bool ready;
  net_idmap conns;
  ws_masker masker; /* masking keys of the frames the net thread makes (pong, ping, close) */
  uint8_t plain[16384]; /* wss: decrypted bytes on their way to the parser (one record) */
} W;
static _Atomic size_t live; /* connections allocated */

static void *xcalloc(size_t n) {
  void *p = calloc(1, n);
  if (!p) {
    fputs("wisp: out of memory in the WebSocket client\n", stderr);
    abort();
  }
  return p;
}

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

const char *ws_stage_name(int stage) {
  switch (stage) {
  case WS_STAGE_DNS: return "dns";
  case WS_STAGE_TCP: return "tcp";
  case WS_STAGE_TLS: return "tls";
  case WS_STAGE_PROXY: return "proxy";
  default: return "handshake";
  }
}

/* ---- options ---- */

ws_connect_opts *ws_connect_opts_new(void) {
  ws_connect_opts *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->dial_timeout_ns = WS_DEFAULT_DIAL_TIMEOUT_NS;
  o->ping_timeout_ns = WS_DEFAULT_PING_TIMEOUT_NS;
  o->read_limit = WS_DEFAULT_READ_LIMIT;
  o->channel_capacity = WS_DEFAULT_CHANNEL_CAPACITY;
  o->compression_threshold = WS_DEFAULT_COMPRESSION_THRESHOLD;
  o->initial_credits = WS_DEFAULT_CHANNEL_CAPACITY;
  return o;
}

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) {
    fputs("wisp: out of memory in the WebSocket client\n", stderr);
    abort();
  }
  return d;
}

ws_connect_opts *ws_connect_opts_clone(const ws_connect_opts *o) {
  ws_connect_opts *n = ws_connect_opts_new();
  if (!n) return NULL;
  ws_connect_opts keep = *n;
  *n = *o;
  n->url = keep.url;
  n->proxy = keep.proxy;
  n->use_proxy = false;
  n->tls = NULL;
  n->start_delay_ns = 0;
  n->headers = NULL;
  n->protocols = NULL;
  n->nheaders = n->nprotocols = 0;
  n->ca_file = xstrdup(o->ca_file);
  n->cert_file = xstrdup(o->cert_file);
  n->key_file = xstrdup(o->key_file);
  n->server_name = xstrdup(o->server_name);
  if (o->nheaders) {
    n->headers = xcalloc(o->nheaders * sizeof *n->headers);
    for (size_t i = 0; i < o->nheaders; i++) {
      n->headers[i] = o->headers[i];
      n->headers[i].name = xstrdup(o->headers[i].name);
      n->headers[i].value = xstrdup(o->headers[i].value);
    }
    n->nheaders = o->nheaders;
  }
  if (o->nprotocols) {
    n->protocols = xcalloc(o->nprotocols * sizeof *n->protocols);
    for (size_t i = 0; i < o->nprotocols; i++) {
      n->protocols[i].ptr = xstrdup(o->protocols[i].ptr);
      n->protocols[i].len = o->protocols[i].len;
    }
    n->nprotocols = o->nprotocols;
  }
  if (n->stats) ws_stats_retain(n->stats);
  return n;
}

/* ---- statistics ---- */

ws_stats *ws_stats_new(void) {
  ws_stats *s = xcalloc(sizeof *s);
  atomic_init(&s->refs, 1);
  atomic_init(&s->rtt_ns, -1);
  return s;
}

void ws_stats_retain(ws_stats *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }

void ws_stats_release(ws_stats *s) {
  if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) free(s);
}

/* The net thread is the counters' only writer: a load and a store, no locked add. */
static inline void stat_add(ws_conn *c, _Atomic uint64_t *field, uint64_t n) {
  (void)c;
  atomic_store_explicit(field, atomic_load_explicit(field, memory_order_relaxed) + n,
                        memory_order_relaxed);
}
#define STAT(c, f, n) do { if ((c)->stats) stat_add((c), &(c)->stats->f, (n)); } while (0)

void ws_connect_opts_free(ws_connect_opts *o) {
  if (!o) return;
  url_free(&o->url);
  for (size_t i = 0; i < o->nheaders; i++) {
    free((char *)o->headers[i].name);
    free((char *)o->headers[i].value);
  }
  free(o->headers);
  for (size_t i = 0; i < o->nprotocols; i++) free((char *)o->protocols[i].ptr);
  free(o->protocols);
  free(o->ca_file);
  free(o->cert_file);
  free(o->key_file);
  free(o->server_name);
  tls_ctx_release(o->tls);
  url_free(&o->proxy);
  ws_stats_release(o->stats);
  free(o);
}

/* ---- events ---- */

static mbox_entry *fail_entry(uint64_t id, int stage, bool timeout, bool retryable, int status,
                              const char *msg, const char *loc, size_t loc_len, const char *addr) {
  ws_fail_event f = {0};
  size_t ml = strlen(msg), al = addr ? strlen(addr) : 0;
  if (ml > 4096) ml = 4096;
  if (loc_len > 4096) loc_len = 4096;
  f.stage = (uint8_t)stage;
  f.timeout = timeout;
  f.retryable = retryable;
  f.status = (uint16_t)status;
  f.msg_len = (uint16_t)ml;
  f.location_len = (uint16_t)loc_len;
  f.address_len = (uint16_t)al;
  mbox_entry *e = mbox_entry_new(MB_NET, 0, id, NULL, sizeof f + ml + loc_len + al);
  e->flags = WSE_FAIL;
  memcpy(e->data, &f, sizeof f);
  memcpy(e->data + sizeof f, msg, ml);
  if (loc_len) memcpy(e->data + sizeof f + ml, loc, loc_len);
  if (al) memcpy(e->data + sizeof f + ml + loc_len, addr, al);
  return e;
}

static void abandon(ws_conn *c);

/* Posts e to the owner; false when there is none. A closed mailbox means the actor ended
 * before its abort arrived: the connection is abandoned as if it had. */
static bool post(ws_conn *c, mbox_entry *e) {
  if (!c->mb) {
    mbox_entry_free(e);
    return false;
  }
  if (mbox_post(c->mb, e)) return true;
  abandon(c);
  return false;
}

/* Posts a final event and lets the mailbox go. */
static void post_final(ws_conn *c, mbox_entry *e) {
  if (!c->mb) {
    mbox_entry_free(e);
    return;
  }
  mbox_post(c->mb, e);
  mbox_release(c->mb);
  c->mb = NULL;
}

void wsc_post_fail(ws_conn *c, int stage, bool timeout, bool retryable, int status,
                   const char *msg, const char *location, size_t location_len) {
  if (!c->mb) return;
  post_final(c, fail_entry(c->idn.id, stage, timeout, retryable, status, msg, location,
                           location_len, c->dial && c->dial->addr[0] ? c->dial->addr : NULL));
}

static void post_closed_f(ws_conn *c, int code, const void *reason, size_t rlen, const char *why,
                          unsigned flags) {
  if (c->closed_posted) return;
  c->closed_posted = true;
  if (!c->mb) return;
  ws_closed_event ce = {0};
  size_t wl = strlen(why);
  if (rlen > WS_MAX_CLOSE_REASON) rlen = WS_MAX_CLOSE_REASON;
  if (wl > 1024) wl = 1024;
  ce.code = (uint16_t)code;
  ce.reason_len = (uint16_t)rlen;
  ce.why_len = (uint16_t)wl;
  ce.flags = (uint8_t)flags;
  mbox_entry *e = mbox_entry_new(MB_NET, 0, c->idn.id, NULL, sizeof ce + rlen + wl);
  e->flags = WSE_CLOSED;
  memcpy(e->data, &ce, sizeof ce);
  if (rlen) memcpy(e->data + sizeof ce, reason, rlen);
  memcpy(e->data + sizeof ce + rlen, why, wl);
  post_final(c, e);
}

static void post_closed(ws_conn *c, int code, const void *reason, size_t rlen, const char *why) {
  post_closed_f(c, code, reason, rlen, why, 0);
}

static void post_drained(ws_conn *c) {
  uint64_t n = c->drained_unreported;
  c->drained_unreported = 0;
  if (!c->mb) return;
  mbox_entry *e = mbox_entry_new(MB_NET, 0, c->idn.id, &n, sizeof n);
  e->flags = WSE_DRAINED;
  post(c, e);
}

/* ---- lifetime ---- */

ws_conn *wsc_get(uint64_t id) {
  if (!W.ready) return NULL;
  return (ws_conn *)net_idmap_get(&W.conns, id); /* idn is the first member */
}

/* Frees a chunk; a request (raw: the CONNECT may carry proxy credentials) is wiped first. */
static void chunk_free(ws_chunk *ch) {
  if (ch->raw) explicit_bzero(ch->data, ch->len);
  free(ch);
}

static void free_chunks(ws_conn *c) {
  ws_chunk *ch = c->wq_head;
  while (ch) {
    ws_chunk *next = ch->next;
    chunk_free(ch);
    ch = next;
  }
  c->wq_head = c->wq_tail = c->pong = c->enc = NULL;
}

/* wss, the connection drops its TCP: close_notify in one non-blocking send, when the socket
 * is at a record boundary (no write in flight, nothing pending) and the session is up. */
static void send_close_notify(ws_conn *c) {
  if (!c->tls || c->fd < 0 || c->wr_busy || c->state < C_HANDSHAKE || tls_pending_bytes(c->tls))
    return;
  tls_close(c->tls);
  const void *p;
  size_t n;
  if (tls_pending_ciphertext(c->tls, &p, &n) &&
      send(c->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
    tls_consume_ciphertext(c->tls, n);
}

/* Frees everything; with the backend gone (stop) there is no op left to wait for. */
static void conn_free(ws_conn *c) {
  if (c->fd >= 0) {
    nb_backend *nb = net_loop_backend();
    if (nb) nb_forget_fd(nb, c->fd);
    close(c->fd);
  }
  wsd_free(c);
  tls_conn_free(c->tls);
  pmd_conn_free(c->pmd);
  free(c->msg);
  wbuf_free(&c->stash);
  free_chunks(c);
  free(c->wmsg);
  ws_stats_release(c->stats);
  if (c->mb) mbox_release(c->mb);
  free(c);
  atomic_fetch_sub(&live, 1);
}

void wsc_enter(ws_conn *c) { c->refs++; }

void wsc_leave(ws_conn *c) {
  if (--c->refs == 0 && c->state == C_DONE) conn_free(c);
}

void wsc_kill(ws_conn *c) {
  if (c->state == C_DONE) return;
  if (c->mb) { /* every way out posts its own final event; this is the safety net */
    if (c->state < C_OPEN)
      wsc_post_fail(c, wsd_stage(c), false, false, 0, "connection aborted", NULL, 0);
    else
      post_closed(c, c->fail_code ? c->fail_code : WS_CLOSE_ABNORMAL, "", 0, "connection aborted");
  }
  send_close_notify(c);
  c->state = C_DONE;
  net_idmap_remove(&W.conns, c->idn.id);
  net_deadline_cancel(&c->dl);
  c->dl_at = 0;
  net_defer_cancel(&c->turn);
  nb_backend *nb = net_loop_backend();
  if (c->rd_busy) nb_cancel(nb, &c->rd);
  if (c->wr_busy) nb_cancel(nb, &c->wr);
  if (c->refs == 0) conn_free(c);
}

/* The peer's side is gone (end of stream, close_notify, a socket or TLS error). */
static void conn_broken(ws_conn *c, const char *err) {
  c->eof = true;
  char why[256];
  switch (c->state) {
  case C_PROXY:
    snprintf(why, sizeof why, "proxy %s: %s", c->dial->opts->proxy.normalized,
             err ? err : "the proxy closed the connection before answering CONNECT");
    wsc_post_fail(c, WS_STAGE_PROXY, false, true, 0, why, NULL, 0);
    break;
  case C_TLS:
    snprintf(why, sizeof why, "TLS handshake failed: %s", err ? err : "the server closed the "
             "connection");
    wsc_post_fail(c, WS_STAGE_TLS, false, true, 0, why, NULL, 0);
    break;
  case C_HANDSHAKE:
    snprintf(why, sizeof why, "upgrade failed: %s", err ? err : "the server closed the connection "
             "before completing the upgrade response");
    wsc_post_fail(c, WS_STAGE_HANDSHAKE, false, true, c->dial->resp ? c->dial->resp->status : 0, why, NULL, 0);
    break;
  case C_OPEN:
    snprintf(why, sizeof why, "%s", err ? err : "the server closed the connection without a "
             "close frame");
    post_closed(c, WS_CLOSE_ABNORMAL, "", 0, why);
    break;
  case C_CLOSING:
    snprintf(why, sizeof why, "%s", err ? err : "the server closed the connection before its "
             "close frame");
    post_closed(c, c->fail_code ? c->fail_code : WS_CLOSE_ABNORMAL, "", 0, why);
    break;
  default: break;
  }
  wsc_kill(c);
}

/* ---- deadlines ---- */

static bool paused(const ws_conn *c) {
  return c->state == C_OPEN && !c->discard && c->credits == 0;
}

static int64_t due(const ws_conn *c) {
  int64_t t = INT64_MAX;
  if (c->state == C_WAIT) t = c->dial->wait_until;
  else if (c->state < C_OPEN) t = c->dial->deadline;
  if (c->close_deadline) t = min64(t, c->close_deadline);
  if (c->write_timeout && c->wq_head && c->state >= C_OPEN)
    t = min64(t, sat_add(c->wq_head->queued_ns, c->write_timeout));
  if (c->state == C_OPEN && !paused(c)) {
    if (c->read_timeout) t = min64(t, sat_add(c->last_rx, c->read_timeout));
    if (c->ping_interval) {
      if (!c->ping_sent) t = min64(t, sat_add(c->last_rx, c->ping_interval));
      else if (c->ping_timeout) t = min64(t, sat_add(c->ping_sent, c->ping_timeout));
    }
  }
  return t;
}

/* The deadline only ever moves earlier here; when it fires it recomputes, so times that moved
 * later (bytes received, pongs) cost nothing until then. */
void wsc_schedule(ws_conn *c) {
  if (c->state == C_DONE) return;
  int64_t t = due(c);
  if (t == INT64_MAX) {
    if (c->dl_at) net_deadline_cancel(&c->dl);
    c->dl_at = 0;
    return;
  }
  if (!c->dl_at || t < c->dl_at) {
    c->dl_at = t;
    net_deadline_set(&c->dl, t);
  }
}

/* ---- writing ---- */

static void on_turn(net_defer *d);

void wsc_queue(ws_conn *c, ws_chunk *ch) {
  ch->next = NULL;
  ch->off = 0;
  ch->in_flight = false;
  ch->queued_ns = net_loop_now();
  if (c->wq_tail) c->wq_tail->next = ch;
  else c->wq_head = ch;
  c->wq_tail = ch;
  if (c->tls && !c->enc) c->enc = ch;
  if (ch->user) c->user_queued += ch->len;
  net_defer_run(&c->turn);
  if (c->write_timeout && c->wq_head == ch) wsc_schedule(c);
}

/* A frame the net thread makes: room for any control frame, so a pong can be rewritten. */
static ws_chunk *control_chunk(int opcode, const void *payload, size_t len) {
  ws_chunk *ch = xcalloc(sizeof *ch + WS_MAX_FRAME_HEADER + WS_MAX_CONTROL_PAYLOAD);
  uint8_t mask[4];
  ws_masker_next(&W.masker, mask);
  size_t h = ws_frame_header(ch->data, opcode, true, false, len, mask);
  memcpy(ch->data + h, payload, len);
  ws_mask(ch->data + h, len, mask, 0);
  ch->len = h + len;
  return ch;
}

static void send_pong(ws_conn *c, const uint8_t *data, size_t len) {
  if (c->pong && !c->pong->in_flight) {
    uint8_t mask[4];
    ws_masker_next(&W.masker, mask);
    size_t h = ws_frame_header(c->pong->data, WS_OP_PONG, true, false, len, mask);
    memcpy(c->pong->data + h, data, len);
    ws_mask(c->pong->data + h, len, mask, 0);
    c->pong->len = h + len;
    return;
  }
  c->pong = control_chunk(WS_OP_PONG, data, len);
  wsc_queue(c, c->pong);
}

static void queue_close(ws_conn *c, int code, const void *reason, size_t rlen) {
  if (c->sent_close) return;
  uint8_t pl[WS_MAX_CONTROL_PAYLOAD];
  int n = 0;
  if (code != WS_CLOSE_NO_STATUS) {
    n = ws_close_payload(pl, code, reason, rlen);
    if (n < 0) n = ws_close_payload(pl, code, "", 0); /* reasons are checked upstream */
    if (n < 0) n = 0;
  }
  c->sent_close = true;
  wsc_queue(c, control_chunk(WS_OP_CLOSE, pl, (size_t)n));
}

static void on_sent(nb_op *op, int32_t res, uint32_t flags);

/* Nothing left to write: no frame queued and, over TLS, no ciphertext pending. */
static bool write_idle(const ws_conn *c) {
  return !c->wq_head && (!c->tls || !tls_pending_bytes(c->tls));
}

/* wss: moves queued frames into the engine while its output is under WS_TLS_OUT_MAX. False
 * when the engine failed (the connection is then over). */
static bool encrypt_queue(ws_conn *c) {
  while (c->enc) {
    size_t pending = tls_pending_bytes(c->tls);
    if (pending >= WS_TLS_OUT_MAX) break;
    ws_chunk *ch = c->enc;
    size_t n = ch->len - ch->off, room = WS_TLS_OUT_MAX - pending;
    if (n > room) n = room;
    ch->in_flight = true;
    if (ch == c->pong) c->pong = NULL; /* its bytes are fixed now */
    if (tls_write(c->tls, ch->data + ch->off, n) != TLS_DONE) {
      conn_broken(c, tls_error_message(c->tls));
      return false;
    }
    ch->off += n;
    if (ch->off == ch->len) {
      ch->ct_end = c->ct_sent + tls_pending_bytes(c->tls);
      c->enc = ch->next;
    }
  }
  return true;
}

static void flush(ws_conn *c) {
  if (c->wr_busy || c->fd < 0 || c->state < C_PROXY || c->state == C_DONE) return;
  size_t n = 0;
  if (c->tls) {
    if (c->state >= C_HANDSHAKE && !encrypt_queue(c)) return;
    if (!tls_pending_bytes(c->tls)) return;
    if (!c->wmsg) c->wmsg = xcalloc(sizeof *c->wmsg);
    n = (size_t)tls_pending_iov(c->tls, c->wmsg->iov, WS_IOV_MAX);
  } else {
    if (!c->wq_head) return;
    if (!c->wmsg) c->wmsg = xcalloc(sizeof *c->wmsg);
    for (ws_chunk *ch = c->wq_head; ch && n < WS_IOV_MAX; ch = ch->next, n++) {
      c->wmsg->iov[n].iov_base = ch->data + ch->off;
      c->wmsg->iov[n].iov_len = ch->len - ch->off;
      ch->in_flight = true;
      if (ch == c->pong) c->pong = NULL; /* its bytes are fixed now */
    }
  }
  ws_sendmsg *m = c->wmsg;
  memset(&m->mh, 0, sizeof m->mh);
  m->mh.msg_iov = m->iov;
  m->mh.msg_iovlen = n;
  c->wr.cb = on_sent;
  int rc = nb_sendmsg(net_loop_backend(), &c->wr, c->fd, &m->mh);
  if (rc < 0) {
    if (!c->tls)
      for (ws_chunk *ch = c->wq_head; ch && ch->in_flight; ch = ch->next) ch->in_flight = false;
    conn_broken(c, strerror(-rc));
    return;
  }
  c->wr_busy = true;
  c->refs++;
}

static void chunk_done(ws_conn *c, ws_chunk *ch) {
  c->wq_head = ch->next;
  if (!c->wq_head) c->wq_tail = NULL;
  if (!ch->raw) {
    STAT(c, frames_out, 1);
    if ((ch->data[0] & 0x0F) == WS_OP_PING) {
      STAT(c, pings_sent, 1);
      c->rtt_from = net_loop_now();
    }
  }
  if (ch->user) {
    c->user_queued -= ch->len;
    c->drained_unreported += ch->len;
  }
  chunk_free(ch);
}

/* Drops the n bytes the last sendmsg wrote from the front of the queue. */
static void consume(ws_conn *c, size_t n) {
  if (c->tls) { /* frames leave once their ciphertext is out */
    tls_consume_ciphertext(c->tls, n);
    c->ct_sent += n;
    while (c->wq_head && c->wq_head->off == c->wq_head->len && c->wq_head->ct_end <= c->ct_sent)
      chunk_done(c, c->wq_head);
    return;
  }
  while (c->wq_head && c->wq_head->in_flight) {
    ws_chunk *ch = c->wq_head;
    size_t left = ch->len - ch->off;
    if (n < left) {
      ch->off += n;
      break;
    }
    n -= left;
    chunk_done(c, ch);
  }
  for (ws_chunk *ch = c->wq_head; ch && ch->in_flight; ch = ch->next) ch->in_flight = false;
}

static void on_sent(nb_op *op, int32_t res, uint32_t flags) {
  ws_conn *c = (ws_conn *)((char *)op - offsetof(ws_conn, wr));
  c->wr_busy = false;
  if (c->state != C_DONE) {
    if (res < 0) {
      conn_broken(c, strerror(-res));
    } else {
      STAT(c, bytes_out, (uint64_t)res);
      consume(c, (size_t)res);
      if (c->drained_unreported &&
          (c->drained_unreported >= WS_SEND_HWM / 2 || c->user_queued == 0))
        post_drained(c);
      if (!write_idle(c)) {
        net_defer_run(&c->turn);
      } else {
        free(c->wmsg);
        c->wmsg = NULL;
        if (c->drop_when_flushed) wsc_kill(c);
      }
    }
  }
  wsc_leave(c);
}

/* ---- reading ---- */

static void on_recv(nb_op *op, int32_t res, uint32_t flags);

static bool want_read(const ws_conn *c) {
  if (c->fd < 0 || c->eof || c->rd_busy || c->tls_rx_pending) return false;
  switch (c->state) {
  case C_PROXY: case C_TLS: case C_HANDSHAKE: case C_CLOSING: return true;
  case C_OPEN: return c->discard || (c->credits > 0 && c->stash.len == 0);
  default: return false;
  }
}

void wsc_read_arm(ws_conn *c) {
  if (!want_read(c)) return;
  c->rd.cb = on_recv;
  int rc = nb_recv(net_loop_backend(), &c->rd, c->fd);
  if (rc < 0) {
    conn_broken(c, strerror(-rc));
    return;
  }
  c->rd_busy = true;
  c->refs++;
}

/* wss: after ciphertext (or the end of the stream) went into the engine. */
static void tls_input(ws_conn *c) {
  if (c->state == C_TLS) wsd_tls_step(c);
  if (c->state >= C_HANDSHAKE && c->state != C_DONE) wsc_tls_pump(c);
}

static void on_recv(nb_op *op, int32_t res, uint32_t flags) {
  ws_conn *c = (ws_conn *)((char *)op - offsetof(ws_conn, rd));
  nb_backend *nb = net_loop_backend();
  c->rd_busy = false;
  if (res > 0 && (flags & NB_F_BUFFER)) {
    unsigned id = flags >> 16;
    if (c->state != C_DONE) {
      const uint8_t *p = nb_buf(nb, id);
      c->last_rx = net_loop_now();
      STAT(c, bytes_in, (uint64_t)res);
      if (c->state == C_PROXY) wsd_proxy_feed(c, p, (size_t)res); /* c->tls comes after it */
      else if (c->tls) tls_feed_ciphertext(c->tls, p, (size_t)res);
      else if (c->state == C_HANDSHAKE) wsd_hs_feed(c, p, (size_t)res);
      else wsc_frames_feed(c, p, (size_t)res);
    }
    nb_buf_return(nb, id);
    if (c->tls && c->state != C_DONE) tls_input(c);
    wsc_read_arm(c);
  } else if (res == -ENOBUFS) {
    if (c->state != C_DONE) net_defer_run(&c->turn); /* the pool refills as others finish */
  } else if (c->state != C_DONE && res != -ECANCELED) {
    if (c->tls && res == 0) { /* the engine says whether close_notify came first */
      c->eof = true;
      tls_feed_eof(c->tls);
      tls_input(c);
    } else {
      conn_broken(c, res == 0 ? NULL : strerror(-res));
    }
  }
  wsc_leave(c);
}

static void msg_start(ws_conn *c, int opcode, size_t cap) {
  c->msg = mbox_entry_new(MB_NET, c->msg_chan, c->idn.id, NULL, cap);
  c->msg->flags = WSE_MESSAGE;
  c->msg->data[0] = (char)opcode;
  c->msg->len = 1; /* data[0] is the type */
  c->msg_cap = cap;
}

/* Appends to the message being assembled; more: bytes known to follow (the rest of the frame),
 * allocated now as well. Growth doubles, never past read_limit (+ the type byte). */
static void msg_put(ws_conn *c, const uint8_t *p, size_t n, size_t more) {
  size_t need = c->msg->len + n;
  if (need > c->msg_cap) {
    size_t want = need + more;
    size_t cap = c->msg_cap * 2, max = (size_t)c->parser.cfg.read_limit + 1;
    if (cap > max) cap = max;
    if (cap < want) cap = want;
    mbox_entry *e = realloc(c->msg, sizeof *e + cap);
    if (!e) {
      fputs("wisp: out of memory assembling a WebSocket message\n", stderr);
      abort();
    }
    c->msg = e;
    c->msg_cap = cap;
  }
  memcpy(c->msg->data + c->msg->len, p, n);
  c->msg->len += n;
}

static void msg_post(ws_conn *c) {
  mbox_entry *e = c->msg;
  c->msg = NULL;
  c->credits--;
  STAT(c, messages_in, 1);
  post(c, e);
}

static void msg_add(ws_conn *c, const ws_event *ev) {
  size_t more = (size_t)c->parser.remaining; /* the rest of this frame */
  if (!c->msg) msg_start(c, ev->opcode, 1 + ev->len + more);
  msg_put(c, ev->data, ev->len, more);
  if (c->pmd) { /* uncompressed on a compressing connection: counts 1:1 in the ratio */
    STAT(c, z_wire, ev->len);
    STAT(c, z_plain, ev->len);
  }
  if (ev->flags & WS_DATA_FINAL) msg_post(c);
}

/* pmd_sink: inflated bytes of the current compressed message. */
static int on_inflated(void *ud, const uint8_t *p, size_t n) {
  ws_conn *c = ud;
  if (c->msg->data[0] == WS_OP_TEXT && utf8_feed(&c->zutf8, p, n) != UTF8_OK)
    return WS_CLOSE_INVALID_PAYLOAD;
  msg_put(c, p, n, 0);
  return 0;
}

static void fail_open(ws_conn *c, int code, const char *reason, const char *why);

/* A piece of a compressed (RSV1) message. The entry starts at four times the compressed
 * frame (typical text inflates 3-5x), capped by read_limit, and doubles from there. */
static void msg_inflate(ws_conn *c, const ws_event *ev) {
  bool fin = ev->flags & WS_DATA_FINAL;
  if (!c->msg) {
    uint64_t guess = 4 * ((uint64_t)ev->len + c->parser.remaining) + 64;
    if (guess > c->parser.cfg.read_limit) guess = c->parser.cfg.read_limit;
    msg_start(c, ev->opcode, 1 + (size_t)guess);
    utf8_init(&c->zutf8);
  }
  size_t before = c->msg->len;
  int code = pmd_decompress(c->pmd, ev->data, ev->len, fin, on_inflated, c);
  STAT(c, z_wire, ev->len);
  STAT(c, z_plain, c->msg->len - before);
  const char *reason = code ? pmd_error(c->pmd) : "";
  if (code == WS_CLOSE_INVALID_PAYLOAD && c->zutf8.state == UTF8_REJECT) {
    reason = "invalid UTF-8 in text message";
  } else if (!code && fin && ev->opcode == WS_OP_TEXT && !utf8_complete(&c->zutf8)) {
    code = WS_CLOSE_INVALID_PAYLOAD;
    reason = "text message ends inside a UTF-8 sequence";
  }
  if (code) {
    char why[200];
    snprintf(why, sizeof why, "%s: %s", code == WS_CLOSE_TOO_BIG ? "message too big"
             : code == WS_CLOSE_INVALID_PAYLOAD ? "invalid payload" : "inflate failed", reason);
    fail_open(c, code, reason, why);
    return;
  }
  if (fin) msg_post(c);
}

static void drop_msg(ws_conn *c) {
  free(c->msg);
  c->msg = NULL;
}

static void stash_drain(ws_conn *c);

/* Local start of the closing handshake (close(), abort, failing). */
static void start_close(ws_conn *c, int code, const void *reason, size_t rlen) {
  queue_close(c, code, reason, rlen);
  c->state = C_CLOSING;
  c->discard = true;
  drop_msg(c);
  if (!c->close_deadline) c->close_deadline = sat_add(net_loop_now(), WS_CLOSE_TIMEOUT_NS);
  stash_drain(c); /* the peer's close may be waiting in it */
  if (c->tls_rx_pending) wsc_tls_pump(c);
  wsc_read_arm(c);
  wsc_schedule(c);
}

/* The client fails the connection: close frame with code, report it, drop after writing. */
static void fail_open(ws_conn *c, int code, const char *reason, const char *why) {
  if (!c->fail_code) c->fail_code = code;
  start_close(c, code, reason, strlen(reason));
  post_closed(c, code, reason, strlen(reason), why);
  c->drop_when_flushed = true;
  if (write_idle(c) && !c->wr_busy) wsc_kill(c);
}

static void got_peer_close(ws_conn *c, int code, const uint8_t *reason, size_t rlen) {
  c->got_close = true;
  queue_close(c, code, "", 0); /* the echo: same code, no reason */
  c->state = C_CLOSING;
  c->discard = true;
  drop_msg(c);
  if (!c->close_deadline) c->close_deadline = sat_add(net_loop_now(), WS_CLOSE_TIMEOUT_NS);
  char why[200];
  snprintf(why, sizeof why, "the server closed the connection (%d%s%.*s)", code,
           rlen ? ": " : "", (int)rlen, (const char *)reason);
  if (c->fail_code) post_closed(c, c->fail_code, "", 0, why);
  else post_closed_f(c, code, reason, rlen, why, WS_CLOSED_BY_PEER);
  wsc_schedule(c);
}

static void on_event(ws_conn *c, const ws_event *ev) {
  switch (ev->type) {
  case WS_EV_DATA:
    if (c->discard) break;
    if (ev->flags & WS_DATA_RSV1) msg_inflate(c, ev); /* only when negotiated (the parser) */
    else msg_add(c, ev);
    break;
  case WS_EV_PING:
    if (!c->sent_close) send_pong(c, ev->data, ev->len);
    break;
  case WS_EV_PONG: /* the next keepalive ping is due earlier than the pong deadline was */
    c->ping_sent = 0;
    if (c->rtt_from && c->stats) {
      atomic_store_explicit(&c->stats->rtt_ns, net_loop_now() - c->rtt_from, memory_order_relaxed);
      c->rtt_from = 0;
    }
    wsc_schedule(c);
    break;
  case WS_EV_CLOSE: got_peer_close(c, ev->code, ev->data, ev->len); break;
  }
}

static bool parsing(const ws_conn *c) {
  return c->state != C_DONE && !c->got_close && !c->fail_code;
}

static void feed(ws_conn *c, const uint8_t *p, size_t n) {
  size_t off = 0;
  while (off < n && parsing(c)) {
    if (paused(c)) {
      wbuf_append(&c->stash, p + off, n - off);
      return;
    }
    size_t used = 0;
    ws_event ev;
    uint64_t frames = c->parser.frames;
    int r = ws_parse(&c->parser, p + off, n - off, &used, &ev);
    off += used;
    if (c->parser.frames != frames) STAT(c, frames_in, c->parser.frames - frames);
    if (r == WS_NEED_MORE) return;
    if (r == WS_ERROR) {
      char why[160];
      snprintf(why, sizeof why, "%s: %s", ev.code == WS_CLOSE_TOO_BIG ? "message too big"
               : ev.code == WS_CLOSE_INVALID_PAYLOAD ? "invalid payload" : "protocol error",
               ev.reason);
      fail_open(c, ev.code, ev.reason, why);
      return;
    }
    on_event(c, &ev);
  }
}

void wsc_frames_feed(ws_conn *c, const uint8_t *p, size_t n) {
  if (!parsing(c)) return;
  if (c->stash.len) wbuf_append(&c->stash, p, n); /* keep the order */
  else feed(c, p, n);
}

static void stash_drain(ws_conn *c) {
  if (!c->stash.len) return;
  wbuf s = c->stash;
  c->stash = (wbuf)WBUF_INIT;
  feed(c, (const uint8_t *)s.data, s.len); /* what it cannot take goes back to the stash */
  wbuf_free(&s);
}

/* wss: decrypted bytes to the upgrade parser or the frame parser, until the engine needs more
 * ciphertext, reports the end, fails, or the connection runs out of read credit (then
 * tls_rx_pending: the rest stays in the engine until credits come back). */
void wsc_tls_pump(ws_conn *c) {
  if (c->tls_pumping) return; /* an event of the outer pump got here: it goes on itself */
  c->tls_pumping = true;
  c->tls_rx_pending = false;
  while (c->state >= C_HANDSHAKE && c->state != C_DONE) {
    if (paused(c) || (c->state == C_OPEN && c->stash.len)) {
      c->tls_rx_pending = true;
      break;
    }
    long n = tls_read(c->tls, W.plain, sizeof W.plain);
    if (n > 0) {
      if (c->state == C_HANDSHAKE) wsd_hs_feed(c, W.plain, (size_t)n);
      else wsc_frames_feed(c, W.plain, (size_t)n); /* ignored once closed or failed */
      continue;
    }
    if (n == TLS_CLOSED) {
      conn_broken(c, NULL);
    } else if (n == TLS_ERROR) {
      if (c->state == C_HANDSHAKE) wsd_tls_fail(c); /* e.g. an alert right after TLS 1.3 */
      else conn_broken(c, tls_error_message(c->tls));
    }
    break;
  }
  c->tls_pumping = false;
  if (c->state != C_DONE && tls_pending_bytes(c->tls)) net_defer_run(&c->turn);
}

bool wsc_open(ws_conn *c, const ws_response *resp, const pmd_params *pmd) {
  ws_connect_opts *o = c->dial->opts;
  const char *protocol = resp->protocol.ptr;
  size_t len = protocol ? resp->protocol.len : 0, hl = 0;
  for (size_t i = 0; i < resp->nheaders; i++)
    hl += resp->headers[i].name_len + resp->headers[i].value_len + 2;
  if (pmd->enabled && !(c->pmd = pmd_conn_new(pmd, 0, o->read_limit))) {
    wsc_post_fail(c, WS_STAGE_HANDSHAKE, false, true, 101, "upgrade failed: out of memory for "
                  "permessage-deflate", NULL, 0);
    wsc_kill(c);
    return false;
  }
  ws_open_event oe = {*pmd, (uint16_t)len, (uint16_t)resp->status, (uint32_t)hl};
  mbox_entry *e = mbox_entry_new(MB_NET, 0, c->idn.id, NULL, sizeof oe + len + hl);
  e->flags = WSE_OPEN;
  memcpy(e->data, &oe, sizeof oe);
  if (len) memcpy(e->data + sizeof oe, protocol, len);
  char *h = e->data + sizeof oe + len;
  for (size_t i = 0; i < resp->nheaders; i++) { /* name NUL value NUL */
    const ws_header *rh = &resp->headers[i];
    memcpy(h, rh->name, rh->name_len);
    h[rh->name_len] = 0;
    h += rh->name_len + 1;
    memcpy(h, rh->value, rh->value_len);
    h[rh->value_len] = 0;
    h += rh->value_len + 1;
  }
  ws_parser_config pc = {o->read_limit, pmd->enabled};
  ws_parser_init(&c->parser, &pc);
  c->state = C_OPEN; /* credits: set at creation, added to by K_CREDIT since */
  c->last_rx = net_loop_now();
  wsd_free(c);
  post(c, e);
  wsc_schedule(c);
  return true;
}

/* ---- end of turn, deadline ---- */

static void on_turn(net_defer *d) {
  ws_conn *c = (ws_conn *)((char *)d - offsetof(ws_conn, turn));
  wsc_enter(c);
  flush(c);
  wsc_read_arm(c);
  wsc_leave(c);
}

static void send_ping(ws_conn *c) {
  wsc_queue(c, control_chunk(WS_OP_PING, "", 0));
  c->ping_sent = net_loop_now();
}

static void on_deadline(net_deadline *d) {
  ws_conn *c = (ws_conn *)((char *)d - offsetof(ws_conn, dl));
  c->dl_at = 0;
  wsc_enter(c);
  int64_t now = net_loop_now();
  char dur[DUR_FORMAT_MAX], why[200];
  if (c->state == C_WAIT) {
    if (now >= c->dial->wait_until) {
      c->state = C_RESOLVE;
      wsd_start(c);
    }
  } else if (c->state < C_OPEN && now >= c->dial->deadline) {
    int stage = wsd_stage(c);
    dur_format(c->dial->opts->dial_timeout_ns, dur, sizeof dur);
    snprintf(why, sizeof why, "dial timeout: not connected after %s (stage %s)", dur,
             ws_stage_name(stage));
    wsc_post_fail(c, stage, true, true, c->dial->resp ? c->dial->resp->status : 0, why, NULL, 0);
    wsc_kill(c);
  } else if (c->close_deadline && now >= c->close_deadline) {
    post_closed(c, c->fail_code ? c->fail_code : WS_CLOSE_ABNORMAL, "", 0,
                "the closing handshake did not complete within 5s");
    wsc_kill(c);
  } else if (c->write_timeout && c->wq_head && c->state >= C_OPEN &&
             now >= sat_add(c->wq_head->queued_ns, c->write_timeout)) {
    dur_format(c->write_timeout, dur, sizeof dur);
    snprintf(why, sizeof why, "write timeout: a frame waited more than %s to be sent", dur);
    post_closed(c, WS_CLOSE_ABNORMAL, "", 0, why);
    wsc_kill(c);
  } else if (c->state == C_OPEN && !paused(c)) {
    if (c->read_timeout && now >= sat_add(c->last_rx, c->read_timeout)) {
      dur_format(c->read_timeout, dur, sizeof dur);
      snprintf(why, sizeof why, "read timeout: nothing received for %s", dur);
      fail_open(c, WS_CLOSE_INTERNAL_ERROR, "read timeout", why);
    } else if (c->ping_interval && c->ping_sent && c->ping_timeout &&
               now >= sat_add(c->ping_sent, c->ping_timeout)) {
      dur_format(c->ping_timeout, dur, sizeof dur);
      snprintf(why, sizeof why, "ping timeout: no pong within %s", dur);
      fail_open(c, WS_CLOSE_INTERNAL_ERROR, "ping timeout", why);
    } else if (c->ping_interval && !c->ping_sent && now >= sat_add(c->last_rx, c->ping_interval)) {
      send_ping(c);
    }
  }
  wsc_schedule(c);
  wsc_leave(c);
}

/* ---- commands ---- */

static void on_stop(void);

static void module_init(void) {
  if (W.ready) return;
  if (net_idmap_init(&W.conns) < 0 || ws_masker_init(&W.masker) < 0) {
    fputs("wisp: cannot set up the WebSocket client (out of memory or no randomness)\n", stderr);
    abort();
  }
  net_on_stop(on_stop);
  W.ready = true;
}

static void conn_create(ws_cmd *k) {
  ws_connect_opts *o = k->opts;
  ws_conn *c = xcalloc(sizeof *c);
  atomic_fetch_add(&live, 1);
  c->idn.id = k->conn;
  c->mb = k->mb; /* the command's reference passes to the connection */
  c->msg_chan = k->chan;
  c->fd = -1;
  c->dial = xcalloc(sizeof *c->dial);
  c->dial->opts = o;
  c->read_timeout = o->read_timeout_ns;
  c->write_timeout = o->write_timeout_ns;
  c->ping_interval = o->ping_interval_ns;
  c->ping_timeout = o->ping_timeout_ns;
  c->capacity = o->channel_capacity ? o->channel_capacity : WS_DEFAULT_CHANNEL_CAPACITY;
  c->credits = o->initial_credits < c->capacity ? o->initial_credits : c->capacity;
  c->stats = o->stats;
  if (c->stats) ws_stats_retain(c->stats);
  c->dl.fn = on_deadline;
  c->turn.fn = on_turn;
  c->dial->wait_until = sat_add(net_loop_now(), o->start_delay_ns > 0 ? o->start_delay_ns : 0);
  c->state = o->start_delay_ns > 0 ? C_WAIT : C_RESOLVE;
  c->dial->deadline = sat_add(c->dial->wait_until, o->dial_timeout_ns > 0 ? o->dial_timeout_ns
                                                                          : WS_DEFAULT_DIAL_TIMEOUT_NS);
  net_idmap_put(&W.conns, &c->idn);
  wsc_enter(c);
  wsc_schedule(c);
  if (c->state == C_RESOLVE) wsd_start(c);
  wsc_leave(c);
}

/* The owner is gone: no more events; close an open connection with 1001. */
static void abandon(ws_conn *c) {
  if (c->mb) mbox_release(c->mb);
  c->mb = NULL;
  c->closed_posted = true;
  if (c->state < C_OPEN) wsc_kill(c);
  else if (c->state == C_OPEN) start_close(c, WS_CLOSE_GOING_AWAY, "", 0);
}

static void on_cmd(net_call *call) {
  ws_cmd *k = (ws_cmd *)call;
  module_init();
  if (k->kind == K_CONNECT) {
    conn_create(k);
    free(k);
    return;
  }
  ws_conn *c = wsc_get(k->conn);
  if (c) {
    wsc_enter(c);
    switch (k->kind) {
    case K_CLOSE:
      if (c->state == C_OPEN) start_close(c, k->code, k->reason, k->reason_len);
      break;
    case K_CREDIT: {
      bool was = paused(c);
      c->credits = c->credits + k->n > c->capacity ? c->capacity : c->credits + k->n;
      if (was && !paused(c)) { /* idle clocks restart: the pause was ours */
        c->last_rx = net_loop_now();
        if (c->ping_sent) c->ping_sent = c->last_rx;
      }
      stash_drain(c);
      if (c->tls_rx_pending) wsc_tls_pump(c);
      wsc_read_arm(c);
      wsc_schedule(c);
      break;
    }
    case K_ABORT: abandon(c); break;
    }
    wsc_leave(c);
  }
  free(k);
}

static void on_send(net_call *call) {
  ws_chunk *ch = (ws_chunk *)call;
  module_init();
  ws_conn *c = wsc_get(ch->conn);
  if (!c || c->state != C_OPEN || c->sent_close) {
    free(ch);
    return;
  }
  wsc_enter(c);
  wsc_queue(c, ch);
  wsc_leave(c);
}

/* The loop is over (net_stop) and its backend closed: a last, non-blocking close frame for
 * open connections whose queue is at a frame boundary (over TLS: followed by close_notify, and
 * only when no ciphertext is pending), a final event for owners, then free. */
static void stop_one(net_idnode *n, void *ud) {
  ws_conn *c = (ws_conn *)n;
  bool sent = false;
  if (c->fd >= 0 && c->state == C_OPEN && !c->sent_close && !c->wr_busy &&
      (!c->wq_head || (c->wq_head->off == 0 && !c->wq_head->in_flight)) &&
      (!c->tls || !tls_pending_bytes(c->tls))) {
    ws_chunk *ch = control_chunk(WS_OP_CLOSE, "\x03\xe9", 2); /* 1001 */
    if (!c->tls) {
      sent = send(c->fd, ch->data, ch->len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)ch->len;
    } else if (tls_write(c->tls, ch->data, ch->len) == TLS_DONE) {
      tls_close(c->tls);
      struct iovec iov[WS_IOV_MAX];
      int k = tls_pending_iov(c->tls, iov, WS_IOV_MAX);
      struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
      sent = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)tls_pending_bytes(c->tls);
    }
    free(ch);
  }
  if (c->state < C_OPEN)
    wsc_post_fail(c, wsd_stage(c), false, true, 0, "the runtime is shutting down", NULL, 0);
  else
    post_closed_f(c, sent ? WS_CLOSE_GOING_AWAY : WS_CLOSE_ABNORMAL, "", 0,
                  "the runtime is shutting down", WS_CLOSED_SHUTDOWN);
  c->state = C_DONE;
  conn_free(c);
}

/* Runs on the net thread as it ends. wolfCrypt's fixed-point ECC cache (FP_ECC, in Debian's
 * build) is thread-local and only freed on request: the TLS handshakes filled it here. */
static void on_stop(void) {
  net_idmap_clear(&W.conns, stop_one, NULL);
  net_idmap_free(&W.conns);
  ws_masker_wipe(&W.masker);
  pmd_thread_release();
#ifdef FP_ECC
  wc_ecc_fp_free();
#endif
  W.ready = false;
}

/* ---- the client side of the contract (any thread) ---- */

static ws_cmd *cmd_new(int kind, uint64_t conn) {
  ws_cmd *k = xcalloc(sizeof *k);
  k->call.fn = on_cmd;
  k->kind = kind;
  k->conn = conn;
  return k;
}

uint64_t ws_net_connect(mailbox *mb, uint64_t msg_chan, ws_connect_opts *opts) {
  uint64_t id = net_new_id();
  ws_cmd *k = cmd_new(K_CONNECT, id);
  k->mb = mb;
  k->chan = msg_chan;
  k->opts = opts;
  mbox_retain(mb);
  if (!net_call_submit(&k->call)) {
    mbox_post(mb, fail_entry(id, WS_STAGE_DNS, false, false, 0, "the network thread is not running",
                             NULL, 0, NULL));
    mbox_release(mb);
    ws_connect_opts_free(opts);
    free(k);
  }
  return id;
}

size_t ws_net_send(uint64_t conn, int opcode, bool rsv1, const void *data, size_t len,
                   ws_masker *m) {
  uint8_t hdr[WS_MAX_FRAME_HEADER], mask[4];
  ws_masker_next(m, mask);
  size_t h = ws_frame_header(hdr, opcode, true, rsv1, len, mask);
  if (!h) return 0;
  ws_chunk *ch = malloc(sizeof *ch + h + len);
  if (!ch) {
    fputs("wisp: out of memory queueing a WebSocket frame\n", stderr);
    abort();
  }
  memset(ch, 0, sizeof *ch);
  memcpy(ch->data, hdr, h);
  memcpy(ch->data + h, data, len);
  ws_mask(ch->data + h, len, mask, 0);
  ch->call.fn = on_send;
  ch->conn = conn;
  ch->len = h + len;
  ch->user = true;
  if (!net_call_submit(&ch->call)) {
    free(ch);
    return 0;
  }
  return h + len;
}

void ws_net_close(uint64_t conn, int code, const char *reason, size_t reason_len) {
  ws_cmd *k = cmd_new(K_CLOSE, conn);
  k->code = code;
  if (reason_len > sizeof k->reason) reason_len = sizeof k->reason;
  memcpy(k->reason, reason, reason_len);
  k->reason_len = reason_len;
  if (!net_call_submit(&k->call)) free(k);
}

void ws_net_credit(uint64_t conn, uint32_t n) {
  ws_cmd *k = cmd_new(K_CREDIT, conn);
  k->n = n;
  if (!net_call_submit(&k->call)) free(k);
}

void ws_net_abort(uint64_t conn) {
  ws_cmd *k = cmd_new(K_ABORT, conn);
  if (!net_call_submit(&k->call)) free(k);
}

size_t ws_net_count(void) { return atomic_load(&live); }
