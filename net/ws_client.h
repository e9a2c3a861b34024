/* net/ws_client.h — the contract between the WebSocket Lua binding (stdlib/websocket.c, on a
 * worker) and the connections owned by the net thread (net/ws_conn.c). Commands go to the net
 * thread through its command queue; everything that comes back is an MB_NET mailbox entry of
 * the owning actor, so a connection never touches Lua and the binding never touches a socket.
 *
 * Back-pressure: the net thread delivers at most channel_capacity messages that the actor has
 * not yet consumed; it stops reading the socket at that point and resumes when credits return
 * (ws_net_credit, sent by the binding as the actor takes messages off the channel).
 * Write queue: ws_net_send copies the frame; WSE_DRAINED reports bytes flushed so the binding
 * can make `send` yield while the queue is above its high-water mark. */
#ifndef WISP_NET_WS_CLIENT_H
#define WISP_NET_WS_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/mailbox.h"

#define WS_OP_TEXT 1
#define WS_OP_BINARY 2
#define WS_OP_PING 9

/* Options, already validated by the binding (ownership passes to ws_net_connect). */
typedef struct ws_connect_opts {
  char *url;                 /* as given; the net side parses it again (net/url.h) */
  char **header_names, **header_values;
  size_t nheaders;
  char **protocols;
  size_t nprotocols;
  int64_t dial_timeout_ns;   /* whole connect: DNS + TCP + TLS + upgrade; > 0 */
  int64_t read_timeout_ns;   /* 0 = none */
  int64_t write_timeout_ns;  /* 0 = none */
  int64_t ping_interval_ns;  /* 0 = off */
  int64_t ping_timeout_ns;
  uint64_t read_limit;       /* bytes */
  uint32_t channel_capacity; /* undelivered messages */
  int compression;           /* 0 none, 1 context takeover, 2 no context takeover */
  uint32_t compression_threshold;
  /* TLS (wss) */
  char *ca_file, *cert_file, *key_file, *server_name;
  bool insecure;
} ws_connect_opts;

void ws_connect_opts_free(ws_connect_opts *o);

/* Starts a connection; returns its id (never 0). The mailbox is retained until the
 * connection's final event (WSE_FAIL or WSE_CLOSED) has been posted. Events for messages go to
 * channel msg_chan, every other event to ctl_chan. */
uint64_t ws_net_connect(mailbox *mb, uint64_t msg_chan, uint64_t ctl_chan, ws_connect_opts *opts);
void ws_net_send(uint64_t conn, int opcode, const void *data, size_t len);
void ws_net_close(uint64_t conn, int code, const char *reason, size_t reason_len);
void ws_net_credit(uint64_t conn, uint32_t n);
/* The owner is gone: close with 1001 and post nothing more. */
void ws_net_abort(uint64_t conn);

/* MB_NET entries: e->arg = connection id, e->flags = event, e->target = channel. */
enum ws_event_kind {
  WSE_OPEN = 1,    /* data: ws_open_info (see ws_event_codec below) */
  WSE_FAIL,        /* data: stage, kind, retryable, status, message */
  WSE_MESSAGE,     /* target msg_chan; data: u8 type (1 text, 2 binary) + payload */
  WSE_DRAINED,     /* data: u64 bytes flushed since the last WSE_DRAINED */
  WSE_CLOSED,      /* data: u16 code (1006 when no close frame came), reason; always last */
  WSE_PONG,        /* data: i64 round-trip ns of the last ping */
};

#endif
