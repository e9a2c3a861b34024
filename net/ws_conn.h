/* net/ws_conn.h — a WebSocket client connection as the net thread holds it, shared by the two
 * halves of its code: ws_dial.c (DNS, TCP connect, TLS handshake, upgrade handshake) and
 * ws_conn.c (frames, TLS records, inflation, the write queue, back-pressure, deadlines,
 * closing, the commands from ws_client.h). Net thread only, except where ws_client.h says
 * otherwise.
 *
 * States: [WAIT ->] RESOLVE -> CONNECT -> [PROXY ->] [TLS ->] HANDSHAKE -> OPEN -> CLOSING
 * -> DONE (WAIT: a reconnect's back-off; PROXY: the CONNECT exchange with an HTTP proxy, after
 * which TLS and the upgrade run inside the tunnel). Before OPEN a
 * connection
 * ends with WSE_FAIL, after it with WSE_CLOSED; DONE means it is leaving: out of the id map,
 * ops cancelled, freed when the last op has called back and no entry point is running
 * (refs). Entry points (op callbacks, commands, the deadline, the end-of-turn work) hold a
 * ref while they run, so nothing they call can free the connection under them. */
#ifndef WISP_NET_WS_CONN_H
#define WISP_NET_WS_CONN_H
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "core/buf.h"
#include "net/idmap.h"
#include "net/netloop.h"
#include "net/ws_client.h"

enum ws_conn_state {
  C_WAIT = 1, C_RESOLVE, C_CONNECT, C_PROXY, C_TLS, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DONE
};

#define WS_IOV_MAX 64 /* frames (or TLS output chunks) gathered into one sendmsg */
/* wss: frames are encrypted at flush time while less than this much ciphertext waits to be
 * written, so a connection's TLS output is bounded whatever the size of its messages. */
#define WS_TLS_OUT_MAX ((size_t)256 << 10)

/* One frame in the write queue. Frames from the binding arrive as the command itself.
 * Plain: off = bytes written. wss: off = bytes encrypted, and the frame leaves the queue
 * once the ciphertext up to ct_end has been written. */
typedef struct ws_chunk {
  net_call call;
  uint64_t conn;
  struct ws_chunk *next;
  int64_t queued_ns;
  size_t len, off;   /* frame bytes; bytes already written (plain) or encrypted (wss) */
  uint64_t ct_end;   /* wss: position in the ciphertext stream where this frame ends */
  bool user;         /* counted in the binding's outstanding bytes */
  bool raw;          /* not a frame: the upgrade or CONNECT request */
  bool in_flight;    /* plain: part of the sendmsg in flight; wss: encryption has begun. Either
                        way its bytes are fixed (a queued pong is rewritten only before) */
  uint8_t data[];
} ws_chunk;

typedef struct ws_sendmsg {
  struct msghdr mh;
  struct iovec iov[WS_IOV_MAX];
} ws_sendmsg;

/* What only dialing needs: allocated with the connection, freed when it opens. */
typedef struct ws_dial {
  ws_connect_opts *opts;
  int64_t wait_until;  /* WAIT: when to start resolving */
  int64_t deadline;    /* dial_timeout: DNS + TCP + TLS + upgrade, counted after WAIT */
  struct addrinfo *ai, *ai_next;
  int tried;           /* addresses tried */
  char addr[64];       /* the address being (or last) tried, "[::1]:80" */
  char err[128];       /* why the last address failed */
  ws_response *resp;
  wbuf hs;             /* response head received so far (capacity WS_HS_MAX_BYTES); in PROXY
                          the proxy's answer so far */
} ws_dial;

typedef struct ws_conn {
  net_idnode idn;      /* id = connection id */
  int state;
  int refs;            /* ops in flight + entry points running */
  mailbox *mb;         /* NULL once the final event is posted, or after abort */
  uint64_t msg_chan;
  int fd;
  nb_op rd, wr;        /* rd: receive; wr: connect poll, then sendmsg */
  bool rd_busy, wr_busy;
  net_deadline dl;
  int64_t dl_at;       /* expiry the deadline is set for; 0 when not pending */
  net_defer turn;      /* end of turn: gathered write, deferred re-arm of the receive */

  /* settings kept from the options */
  int64_t read_timeout, write_timeout, ping_interval, ping_timeout;
  uint32_t capacity;

  ws_dial *dial;       /* until OPEN */
  tls_conn *tls;       /* wss: the TLS engine; every byte on the socket goes through it */
  bool tls_rx_pending; /* wss: plaintext may wait inside the engine (reading stopped there) */
  bool tls_pumping;    /* wss: wsc_tls_pump is running (it is not re-entered) */
  uint64_t ct_sent;    /* wss: ciphertext bytes written to the socket so far */
  ws_chunk *enc;       /* wss: the first frame not completely encrypted, NULL if none */

  /* reading */
  ws_parser parser;
  mbox_entry *msg;     /* message being reassembled (an MB_NET entry, data[0] = type) */
  size_t msg_cap;      /* bytes allocated for msg->data */
  wbuf stash;          /* bytes received (plaintext), not parsed yet (out of credit) */
  pmd_conn *pmd;       /* permessage-deflate, incoming direction; NULL when not negotiated */
  utf8_state zutf8;    /* UTF-8 state of the compressed text message being inflated */
  uint32_t credits;
  bool eof;
  int64_t last_rx;     /* monotonic time of the last bytes received */
  int64_t ping_sent;   /* keepalive ping outstanding since, 0 when none */
  int64_t rtt_from;    /* when the last ping was written, 0 once its pong came (stats) */
  ws_stats *stats;     /* a reference, or NULL */

  /* writing */
  ws_chunk *wq_head, *wq_tail;
  ws_chunk *pong;      /* queued pong not yet in flight: a newer ping rewrites it */
  ws_sendmsg *wmsg;    /* the sendmsg in flight */
  uint64_t user_queued;      /* bytes of user frames in the queue */
  uint64_t drained_unreported;

  /* closing */
  bool sent_close, got_close, discard, drop_when_flushed, closed_posted;
  int64_t close_deadline;
  int fail_code;       /* the code the client failed the connection with, 0 if none */
} ws_conn;

/* ws_conn.c, for ws_dial.c */
ws_conn *wsc_get(uint64_t id);           /* NULL when unknown or already DONE */
void wsc_enter(ws_conn *c);
void wsc_leave(ws_conn *c);              /* may free c */
void wsc_kill(ws_conn *c);               /* -> DONE */
void wsc_schedule(ws_conn *c);           /* (re)arms the deadline for the earliest due time */
void wsc_queue(ws_conn *c, ws_chunk *ch);
void wsc_read_arm(ws_conn *c);
/* HANDSHAKE -> OPEN with the validated response (subprotocol, headers: reported to the
 * binding) and the negotiated compression (enabled or not); false when the connection failed
 * instead (out of memory for the inflater). */
bool wsc_open(ws_conn *c, const ws_response *resp, const pmd_params *pmd);
void wsc_frames_feed(ws_conn *c, const uint8_t *p, size_t n);
void wsc_tls_pump(ws_conn *c);           /* wss: plaintext out of the engine to hs/frames */
void wsc_post_fail(ws_conn *c, int stage, bool timeout, bool retryable, int status,
                   const char *msg, const char *location, size_t location_len);

/* ws_dial.c, for ws_conn.c */
void wsd_start(ws_conn *c);              /* RESOLVE: numeric host or DNS lookup, then connect */
void wsd_hs_feed(ws_conn *c, const uint8_t *p, size_t n); /* response bytes in HANDSHAKE */
void wsd_proxy_feed(ws_conn *c, const uint8_t *p, size_t n); /* the proxy's answer, PROXY */
void wsd_tls_step(ws_conn *c);           /* TLS: drives the handshake after each feed */
void wsd_tls_fail(ws_conn *c);           /* the engine failed before OPEN: WSE_FAIL, stage tls */
void wsd_free(ws_conn *c);               /* c->dial and what it holds */
int wsd_stage(const ws_conn *c);         /* enum ws_stage of the current state */

#endif
