/* net/ws_conn.h — a WebSocket client connection as the net thread holds it, shared by the two
 * halves of its code: ws_dial.c (DNS, TCP connect, upgrade handshake) and ws_conn.c (frames,
 * the write queue, back-pressure, deadlines, closing, the commands from ws_client.h).
 * Net thread only, except where ws_client.h says otherwise.
 *
 * States: RESOLVE -> CONNECT -> HANDSHAKE -> OPEN -> CLOSING -> DONE. Before OPEN a connection
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

enum ws_conn_state { C_RESOLVE = 1, C_CONNECT, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DONE };

#define WS_IOV_MAX 64 /* frames gathered into one sendmsg */

/* One frame in the write queue. Frames from the binding arrive as the command itself. */
typedef struct ws_chunk {
  net_call call;
  uint64_t conn;
  struct ws_chunk *next;
  int64_t queued_ns;
  size_t len, off;   /* frame bytes; bytes already written */
  bool user;         /* counted in the binding's outstanding bytes */
  bool in_flight;    /* part of the sendmsg in flight */
  uint8_t data[];
} ws_chunk;

typedef struct ws_sendmsg {
  struct msghdr mh;
  struct iovec iov[WS_IOV_MAX];
} ws_sendmsg;

/* What only dialing needs: allocated with the connection, freed when it opens. */
typedef struct ws_dial {
  ws_connect_opts *opts;
  int64_t deadline;    /* dial_timeout: DNS + TCP + upgrade */
  struct addrinfo *ai, *ai_next;
  int tried;           /* addresses tried */
  char addr[64];       /* the address being (or last) tried, "[::1]:80" */
  char err[128];       /* why the last address failed */
  ws_response *resp;
  wbuf hs;             /* response head received so far (capacity WS_HS_MAX_BYTES) */
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

  /* reading */
  ws_parser parser;
  mbox_entry *msg;     /* message being reassembled (an MB_NET entry, data[0] = type) */
  size_t msg_cap;      /* bytes allocated for msg->data */
  wbuf stash;          /* bytes received, not parsed yet (out of credit) */
  uint32_t credits;
  bool eof;
  int64_t last_rx;     /* monotonic time of the last bytes received */
  int64_t ping_sent;   /* keepalive ping outstanding since, 0 when none */

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
void wsc_open(ws_conn *c, const char *protocol, size_t len); /* HANDSHAKE -> OPEN */
void wsc_frames_feed(ws_conn *c, const uint8_t *p, size_t n);
void wsc_post_fail(ws_conn *c, int stage, bool timeout, bool retryable, int status,
                   const char *msg, const char *location, size_t location_len);

/* ws_dial.c, for ws_conn.c */
void wsd_start(ws_conn *c);              /* RESOLVE: numeric host or DNS lookup, then connect */
void wsd_hs_feed(ws_conn *c, const uint8_t *p, size_t n); /* response bytes in HANDSHAKE */
void wsd_free(ws_conn *c);               /* c->dial and what it holds */
int wsd_stage(const ws_conn *c);         /* enum ws_stage of the current state */

#endif
