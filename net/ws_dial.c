/* net/ws_dial.c — the way to an open WebSocket connection, on the net thread: name resolution
 * (numeric hosts at once, names through net/dns.c), TCP connect trying each address in the
 * resolver's order until one answers, for wss:// the TLS handshake (net/tls.h, its bytes
 * through the same socket ops as everything else), then the HTTP/1.1 upgrade
 * (net/ws_handshake.h) with the permessage-deflate offer and its negotiation (net/deflate.h).
 * Through an HTTP proxy (net/ws_proxy.h) the proxy's name is resolved and connected instead,
 * a CONNECT request opens a tunnel to the server (stage "proxy"), and TLS and the upgrade run
 * inside it; the server's name is never resolved here.
 * One deadline, the connection's dial_deadline, covers all of it; on expiry the error names
 * the stage that was running. Failures before OPEN end the connection with WSE_FAIL: DNS and
 * TCP failures are retryable, and so are handshake failures (a server may answer 503 now and
 * 101 later). TLS failures are retryable except certificate failures (ours: chain, dates,
 * name; theirs: an alert refusing or requiring our certificate) and other alerts by which
 * the server says a retry would fail the same way (tls_error_retryable). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net/deflate.h"
#include "net/dns.h"
#include "net/tls.h"
#include "net/ws_conn.h"
#include "net/ws_proxy.h"

int wsd_stage(const ws_conn *c) {
  switch (c->state) {
  case C_WAIT: case C_RESOLVE: return WS_STAGE_DNS;
  case C_CONNECT: return WS_STAGE_TCP;
  case C_PROXY: return WS_STAGE_PROXY;
  case C_TLS: return WS_STAGE_TLS;
  default: return WS_STAGE_HANDSHAKE;
  }
}

void wsd_free(ws_conn *c) {
  ws_dial *d = c->dial;
  if (!d) return;
  if (d->ai) freeaddrinfo(d->ai);
  free(d->resp);
  wbuf_free(&d->hs);
  ws_connect_opts_free(d->opts);
  free(d);
  c->dial = NULL;
}

static void fail(ws_conn *c, int stage, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(ws_conn *c, int stage, bool retryable, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wsc_post_fail(c, stage, false, retryable, 0, msg, NULL, 0);
  wsc_kill(c);
}

/* ---- TCP ---- */

static void format_addr(char *out, size_t outsz, const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    port = ntohs(s6->sin6_port);
    snprintf(out, outsz, "[%s]:%u", host, port);
  } else {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    port = ntohs(s4->sin_port);
    snprintf(out, outsz, "%s:%u", host, port);
  }
}

static void close_fd(ws_conn *c) {
  if (c->fd < 0) return;
  nb_forget_fd(net_loop_backend(), c->fd);
  close(c->fd);
  c->fd = -1;
}

static void connected(ws_conn *c);
static void on_connect(nb_op *op, int32_t res, uint32_t flags);

/* Tries the remaining addresses in order; fails the connection when none is left. */
static void dial_next(ws_conn *c) {
  c->state = C_CONNECT;
  while (c->dial->ai_next) {
    struct addrinfo *ai = c->dial->ai_next;
    c->dial->ai_next = ai->ai_next;
    c->dial->tried++;
    format_addr(c->dial->addr, sizeof c->dial->addr, ai->ai_addr);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
      snprintf(c->dial->err, sizeof c->dial->err, "socket: %s", strerror(errno));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* we batch frames ourselves */
    c->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      connected(c);
      return;
    }
    if (errno == EINPROGRESS) {
      c->wr.cb = on_connect;
      int rc = nb_poll(net_loop_backend(), &c->wr, fd, POLLOUT);
      if (rc == 0) {
        c->wr_busy = true;
        c->refs++;
        return;
      }
      snprintf(c->dial->err, sizeof c->dial->err, "%s", strerror(-rc));
    } else {
      snprintf(c->dial->err, sizeof c->dial->err, "%s", strerror(errno));
    }
    close_fd(c);
  }
  const char *what = c->dial->opts->use_proxy ? "connect to proxy" : "connect";
  if (c->dial->tried > 1)
    fail(c, WS_STAGE_TCP, true, "%s %s: %s (%d addresses tried)", what, c->dial->addr,
         c->dial->err, c->dial->tried);
  else
    fail(c, WS_STAGE_TCP, true, "%s %s: %s", what, c->dial->addr, c->dial->err);
}

static void on_connect(nb_op *op, int32_t res, uint32_t flags) {
  ws_conn *c = (ws_conn *)((char *)op - offsetof(ws_conn, wr));
  c->wr_busy = false;
  if (c->state == C_CONNECT) {
    int err = 0;
    socklen_t len = sizeof err;
    if (res < 0) err = -res;
    else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
      snprintf(c->dial->err, sizeof c->dial->err, "%s", strerror(err));
      close_fd(c);
      dial_next(c);
    } else {
      connected(c);
    }
  }
  wsc_leave(c); /* the op's reference */
}

/* ---- TLS ---- */

static void upgrade(ws_conn *c);
static void tunnel_open(ws_conn *c);

/* Queues a request that is not a frame (CONNECT, the upgrade). */
static bool queue_raw(ws_conn *c, wbuf *b) {
  ws_chunk *ch = calloc(1, sizeof *ch + b->len);
  if (!ch) return false;
  memcpy(ch->data, b->data, b->len);
  ch->len = b->len;
  ch->raw = true;
  wsc_queue(c, ch);
  return true;
}

static void connected(ws_conn *c) {
  freeaddrinfo(c->dial->ai);
  c->dial->ai = c->dial->ai_next = NULL;
  ws_connect_opts *o = c->dial->opts;
  if (o->use_proxy) { /* the tunnel first: CONNECT host:port */
    c->state = C_PROXY;
    wbuf b = WBUF_INIT;
    ws_proxy_request(&b, &o->url, &o->proxy);
    bool ok = queue_raw(c, &b);
    explicit_bzero(b.data, b.len); /* Proxy-Authorization */
    wbuf_free(&b);
    if (!ok) {
      fail(c, WS_STAGE_PROXY, true, "out of memory");
      return;
    }
    wbuf_reserve(&c->dial->hs, WS_PROXY_HEAD_MAX);
    wsc_read_arm(c);
    return;
  }
  tunnel_open(c);
}

/* The answer to CONNECT, as it arrives. */
void wsd_proxy_feed(ws_conn *c, const uint8_t *p, size_t n) {
  ws_dial *d = c->dial;
  size_t room = WS_PROXY_HEAD_MAX + 1 - d->hs.len, take = n < room ? n : room;
  wbuf_append(&d->hs, p, take);
  ws_proxy_response r;
  int rc = ws_proxy_response_parse(&r, d->hs.data, d->hs.len, d->opts->proxy.normalized);
  if (rc == WS_PROXY_NEED_MORE) return;
  if (rc != WS_PROXY_OPEN) {
    wsc_post_fail(c, WS_STAGE_PROXY, false, r.retryable, r.status, r.error, NULL, 0);
    wsc_kill(c);
    return;
  }
  /* the tunnel is open: whatever followed the head is the server's (it should say nothing
   * before our first flight, but it is not dropped) */
  wbuf rest = WBUF_INIT;
  if (d->hs.len > r.head_len) wbuf_append(&rest, d->hs.data + r.head_len, d->hs.len - r.head_len);
  if (take < n) wbuf_append(&rest, p + take, n - take);
  wbuf_reset(&d->hs);
  tunnel_open(c);
  if (rest.len && c->state != C_DONE) {
    if (c->tls) {
      tls_feed_ciphertext(c->tls, rest.data, rest.len);
      if (c->state == C_TLS) wsd_tls_step(c);
      if (c->state >= C_HANDSHAKE && c->state != C_DONE) wsc_tls_pump(c);
    } else if (c->state == C_HANDSHAKE) {
      wsd_hs_feed(c, (const uint8_t *)rest.data, rest.len);
    }
  }
  wbuf_free(&rest);
}

/* TCP to the server (or a tunnel to it) is there: TLS for wss, else the upgrade. */
static void tunnel_open(ws_conn *c) {
  ws_connect_opts *o = c->dial->opts;
  if (!o->url.tls) {
    upgrade(c);
    return;
  }
  if (!o->tls) { /* the binding always supplies one for wss */
    fail(c, WS_STAGE_TLS, false, "no TLS context for a wss:// connection");
    return;
  }
  char err[256];
  c->tls = tls_conn_new(o->tls, o->server_name ? o->server_name : o->url.host, "http/1.1", err,
                        sizeof err);
  if (!c->tls) {
    fail(c, WS_STAGE_TLS, false, "%s", err);
    return;
  }
  c->state = C_TLS;
  wsd_tls_step(c); /* the ClientHello */
  wsc_read_arm(c);
}

/* Certificate failures, ours or the server's, and alerts that would come again, are final;
 * transport failures and a peer that does not speak TLS (a misrouted port may be fixed) are
 * not (SPEC.md: TLS failures are retryable, certificate verification failures are not). */
static bool tls_retryable(const tls_conn *t) {
  switch (tls_error_kind_of(t)) {
  case TLS_E_UNKNOWN_ISSUER: case TLS_E_EXPIRED: case TLS_E_NOT_YET_VALID:
  case TLS_E_NAME_MISMATCH: case TLS_E_VERIFY:
    return false;
  case TLS_E_ALERT: case TLS_E_IO:
    return tls_error_retryable(t);
  default:
    return true;
  }
}

void wsd_tls_fail(ws_conn *c) {
  wsc_post_fail(c, WS_STAGE_TLS, false, tls_retryable(c->tls), 0, tls_error_message(c->tls), NULL,
                0);
  wsc_kill(c);
}

void wsd_tls_step(ws_conn *c) {
  int r = tls_handshake(c->tls);
  if (tls_pending_bytes(c->tls)) net_defer_run(&c->turn); /* our next flight */
  if (r == TLS_WANT_IO) return;
  if (r == TLS_ERROR) {
    wsd_tls_fail(c);
    return;
  }
  upgrade(c);
}

/* ---- the upgrade ---- */

static void upgrade(ws_conn *c) {
  c->state = C_HANDSHAKE;
  ws_connect_opts *o = c->dial->opts;
  char key[WS_KEY_LEN + 1], err[256];
  if (ws_handshake_key(key) < 0) {
    fail(c, WS_STAGE_HANDSHAKE, true, "cannot make a Sec-WebSocket-Key: %s", strerror(errno));
    return;
  }
  const char *offer = pmd_offer(o->compression); /* NULL: compression disabled */
  ws_request req = {&o->url, o->protocols, o->nprotocols, offer, o->headers, o->nheaders};
  wbuf b = WBUF_INIT;
  if (ws_build_request(&b, &req, key, err, sizeof err) < 0) {
    wbuf_free(&b);
    fail(c, WS_STAGE_HANDSHAKE, false, "cannot build the upgrade request: %s", err);
    return;
  }
  c->dial->resp = calloc(1, sizeof *c->dial->resp);
  if (!c->dial->resp) {
    wbuf_free(&b);
    fail(c, WS_STAGE_HANDSHAKE, true, "out of memory");
    return;
  }
  ws_response_init(c->dial->resp, key, o->protocols, o->nprotocols, offer != NULL);
  wbuf_reserve(&c->dial->hs, WS_HS_MAX_BYTES); /* never grows: the response points into it */
  bool ok = queue_raw(c, &b);
  wbuf_free(&b);
  if (!ok) {
    fail(c, WS_STAGE_HANDSHAKE, true, "out of memory");
    return;
  }
  wsc_read_arm(c);
}

/* The server's Sec-WebSocket-Extensions lines against our offer. False: the connection failed. */
static bool negotiate(ws_conn *c, pmd_params *out) {
  ws_response *rs = c->dial->resp;
  ws_str lines[WS_HS_MAX_HEADERS];
  size_t n = 0, pos = 0;
  const ws_header *h;
  while (n < WS_HS_MAX_HEADERS && (h = ws_response_next(rs, "sec-websocket-extensions", &pos)))
    lines[n++] = (ws_str){h->value, h->value_len};
  char err[PMD_ERR_MAX], msg[PMD_ERR_MAX + 32];
  if (pmd_negotiate(c->dial->opts->compression, lines, n, out, err, sizeof err) == 0) return true;
  snprintf(msg, sizeof msg, "upgrade failed: %s", err);
  wsc_post_fail(c, WS_STAGE_HANDSHAKE, false, true, rs->status, msg, NULL, 0);
  wsc_kill(c);
  return false;
}

void wsd_hs_feed(ws_conn *c, const uint8_t *p, size_t n) {
  size_t room = WS_HS_MAX_BYTES - c->dial->hs.len, take = n < room ? n : room;
  wbuf_append(&c->dial->hs, p, take);
  size_t head = 0;
  int r = ws_response_parse(c->dial->resp, c->dial->hs.data, c->dial->hs.len, &head);
  if (r == WS_HS_NEED_MORE) return;
  if (r == WS_HS_ERROR) {
    ws_response *rs = c->dial->resp;
    char msg[WS_HS_ERR_MAX + 32];
    snprintf(msg, sizeof msg, "upgrade failed: %s", rs->error);
    wsc_post_fail(c, WS_STAGE_HANDSHAKE, false, true, rs->status, msg, rs->location.ptr,
                  rs->location.ptr ? rs->location.len : 0);
    wsc_kill(c);
    return;
  }
  pmd_params pmd;
  if (!negotiate(c, &pmd)) return;
  /* open: frames may already follow the head, in hs and in the rest of p */
  wbuf rest = c->dial->hs;
  c->dial->hs = (wbuf)WBUF_INIT;
  /* wsc_open frees resp, which points into rest */
  if (wsc_open(c, c->dial->resp, &pmd) && c->state == C_OPEN && rest.len > head)
    wsc_frames_feed(c, (const uint8_t *)rest.data + head, rest.len - head);
  wbuf_free(&rest);
  if (c->state == C_OPEN && take < n) wsc_frames_feed(c, p + take, n - take);
}

/* ---- resolution ---- */

static void resolved(ws_conn *c, struct addrinfo *ai, const char *err) {
  if (err) {
    ws_connect_opts *o = c->dial->opts;
    fail(c, WS_STAGE_DNS, true, "lookup %s%s: %s", o->use_proxy ? "of proxy " : "",
         o->use_proxy ? o->proxy.host : o->url.host, err);
    return;
  }
  c->dial->ai = c->dial->ai_next = ai;
  dial_next(c);
}

static void on_dns(uint64_t owner, struct addrinfo *ai, const char *err) {
  ws_conn *c = wsc_get(owner);
  if (!c || c->state != C_RESOLVE) { /* timed out or aborted meanwhile */
    if (ai) freeaddrinfo(ai);
    return;
  }
  wsc_enter(c);
  resolved(c, ai, err);
  wsc_leave(c);
}

void wsd_start(ws_conn *c) {
  url_parts *u = c->dial->opts->use_proxy ? &c->dial->opts->proxy : &c->dial->opts->url;
  if (u->host_kind == URL_HOST_NAME) {
    if (dns_resolve(u->host, u->port, c->idn.id, on_dns) < 0)
      fail(c, WS_STAGE_DNS, true, "lookup %s: cannot start a resolver thread", u->host);
    return;
  }
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = u->host_kind == URL_HOST_IPV6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)u->port);
  int rc = getaddrinfo(u->host, port, &hints, &ai); /* numeric: no lookup, never blocks */
  resolved(c, rc == 0 ? ai : NULL, rc == 0 ? NULL : gai_strerror(rc));
}
