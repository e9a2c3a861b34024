/* net/ws_client.h — the contract between the WebSocket Lua binding (stdlib/websocket.c, on a
 * worker) and the connections owned by the net thread (net/ws_conn.c). Commands go to the net
 * thread through its command queue; everything that comes back is an MB_NET mailbox entry of
 * the owning actor, so a connection never touches Lua and the binding never touches a socket.
 *
 * Events (MB_NET entries): e->arg = connection id, e->flags = enum ws_event_kind, e->target =
 * the message channel for WSE_MESSAGE, 0 otherwise. Per connection they arrive in this order:
 * WSE_OPEN, then WSE_MESSAGE / WSE_DRAINED in any mix, then WSE_CLOSED; or WSE_FAIL alone when
 * the connection never opened. WSE_FAIL and WSE_CLOSED are final: nothing follows them and the
 * connection's reference to the mailbox is released right after posting.
 *
 * Back-pressure, reading: the net thread posts at most channel_capacity WSE_MESSAGE entries
 * that the binding has not given back as credits (ws_net_credit, sent as the actor takes
 * messages off the channel). Out of credit it stops reading the socket (TCP does the rest)
 * and resumes when credits return. Memory per connection is therefore bounded by
 * channel_capacity × read_limit plus one receive buffer, whatever the peer sends.
 * Back-pressure, writing: ws_net_send hands a complete masked frame to the write queue and
 * returns its size; the binding adds it to its count of outstanding bytes and subtracts what
 * WSE_DRAINED reports. The net thread reports flushed bytes at least every WS_SEND_HWM / 2 and
 * whenever its queue of user frames runs empty, so a sender waiting for the count to fall to
 * WS_SEND_HWM is always woken. */
#ifndef WISP_NET_WS_CLIENT_H
#define WISP_NET_WS_CLIENT_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/mailbox.h"
#include "net/deflate.h"
#include "net/tls.h"
#include "net/url.h"
#include "net/ws_frame.h"
#include "net/ws_handshake.h"

#define WS_SEND_HWM ((uint64_t)1 << 20)             /* send yields while more is outstanding */
#define WS_CLOSE_TIMEOUT_NS ((int64_t)5000000000)  /* close handshake, then the TCP is dropped */

/* Option defaults and ranges (SPEC.md "websocket"). */
#define WS_DEFAULT_DIAL_TIMEOUT_NS ((int64_t)30000000000)
#define WS_DEFAULT_PING_TIMEOUT_NS ((int64_t)20000000000)
#define WS_DEFAULT_READ_LIMIT ((uint64_t)16 << 20)
#define WS_MAX_READ_LIMIT ((uint64_t)134217728)
#define WS_DEFAULT_CHANNEL_CAPACITY 32
#define WS_MAX_CHANNEL_CAPACITY 10000
#define WS_DEFAULT_COMPRESSION_THRESHOLD 128
#define WS_MAX_COMPRESSION_THRESHOLD 104857600

/* Counters of a client's traffic, shared by the binding (reader, any time) and the net thread
 * (the only writer: every connection of the client adds to the same object, so the numbers
 * cover reconnects). Reference counted: the binding holds one, each connection another. */
typedef struct ws_stats {
  _Atomic int refs;
  _Atomic uint64_t bytes_in, bytes_out;   /* socket bytes: upgrade, CONNECT, TLS records, frames */
  _Atomic uint64_t frames_in, frames_out; /* WebSocket frames, control frames included */
  _Atomic uint64_t messages_in;           /* data messages posted to the actor */
  _Atomic uint64_t pings_sent;            /* written: ping() and keepalive */
  _Atomic int64_t rtt_ns;                 /* last ping written -> next pong; -1 until a pong */
  _Atomic uint64_t z_wire, z_plain;       /* received data payload on connections with
                                             permessage-deflate: as on the wire, inflated */
} ws_stats;

ws_stats *ws_stats_new(void); /* one reference; aborts when out of memory */
void ws_stats_retain(ws_stats *s);
void ws_stats_release(ws_stats *s); /* NULL is fine */

/* Connection options, validated by the binding. ws_net_connect takes ownership. */
typedef struct ws_connect_opts {
  url_parts url;             /* parsed and policy-checked by the binding */
  ws_header *headers;        /* user headers; names and values are malloc'd strings */
  size_t nheaders;
  ws_str *protocols;         /* offered subprotocols, malloc'd strings */
  size_t nprotocols;
  int64_t dial_timeout_ns;   /* whole connect: DNS + TCP + TLS + upgrade; > 0 */
  int64_t read_timeout_ns;   /* 0 = none */
  int64_t write_timeout_ns;  /* 0 = none */
  int64_t ping_interval_ns;  /* 0 = off */
  int64_t ping_timeout_ns;   /* 0 = no pong deadline */
  uint64_t read_limit;       /* bytes of one message */
  uint32_t channel_capacity; /* undelivered messages */
  int compression;           /* 0 none, 1 context takeover, 2 no context takeover */
  uint32_t compression_threshold;
  /* TLS (wss) */
  char *ca_file, *cert_file, *key_file, *server_name;
  bool insecure;
  tls_ctx *tls;              /* wss: the shared context for these options (a reference),
                                obtained by the binding; released with the options */
  /* HTTP proxy (net/ws_proxy.h): the tunnel is opened with CONNECT to url's host and port */
  bool use_proxy;
  url_parts proxy;           /* parsed with URL_PROXY; user info becomes Proxy-Authorization */
  /* between connections of one client (reconnects) */
  int64_t start_delay_ns;    /* wait this long before resolving (the back-off); 0 = at once */
  uint32_t initial_credits;  /* read credits at the start (messages the actor still holds from
                                an earlier connection count against channel_capacity); set to
                                channel_capacity by ws_connect_opts_new */
  ws_stats *stats;           /* a reference, or NULL: counters to add to */
} ws_connect_opts;

/* A zeroed options object with every default set; NULL when out of memory. */
ws_connect_opts *ws_connect_opts_new(void);
/* A deep copy for another connection of the same client: everything except url, proxy and
 * tls (the binding sets them per dial), stats (a new reference) and start_delay_ns (0).
 * NULL when out of memory. */
ws_connect_opts *ws_connect_opts_clone(const ws_connect_opts *o);
void ws_connect_opts_free(ws_connect_opts *o); /* NULL is fine */

/* Any thread. Starts a connection and returns its id (never 0); the mailbox is retained until
 * the final event is posted. WSE_MESSAGE entries target msg_chan. If the net thread is not
 * running the connection fails at once (WSE_FAIL, stage "dns"). */
uint64_t ws_net_connect(mailbox *mb, uint64_t msg_chan, ws_connect_opts *opts);
/* Any thread (the owner's). Builds the frame (header + payload masked with m, which belongs to
 * the caller) and queues it; opcode WS_OP_TEXT, WS_OP_BINARY or WS_OP_PING (len ≤ 125).
 * rsv1: the payload is a permessage-deflate compressed message (data frames only; the
 * binding compresses, see WSE_OPEN). Returns the frame's size in bytes, or 0 when the net
 * thread is not running (the frame is dropped: the connection is gone with it). A frame for a
 * connection that is over is dropped by the net thread, and so is anything sent after a close
 * was started. */
size_t ws_net_send(uint64_t conn, int opcode, bool rsv1, const void *data, size_t len,
                   ws_masker *m);
/* Starts the closing handshake with code (already checked: ws_close_check) and reason; the
 * connection ends (WSE_CLOSED) when the peer's close frame arrives or after
 * WS_CLOSE_TIMEOUT_NS. Ignored when the connection is already closing or over. */
void ws_net_close(uint64_t conn, int code, const char *reason, size_t reason_len);
/* Gives back n read credits (messages the actor has taken). */
void ws_net_credit(uint64_t conn, uint32_t n);
/* The owner is gone: the mailbox is released at once and nothing more is posted; an open
 * connection is closed with 1001 (closing handshake, bounded by WS_CLOSE_TIMEOUT_NS), one
 * still connecting is dropped. */
void ws_net_abort(uint64_t conn);
/* Connections the net thread currently holds (any state, aborted ones included). */
size_t ws_net_count(void);

enum ws_event_kind {
  WSE_OPEN = 1, /* data: ws_open_event, then protocol_len bytes of the subprotocol, then
                   headers_len bytes: the 101's header lines as name NUL value NUL ... */
  WSE_FAIL,     /* data: ws_fail_event, then msg_len bytes of message, then location_len bytes */
  WSE_MESSAGE,  /* data: u8 type (WS_OP_TEXT or WS_OP_BINARY), then the payload */
  WSE_DRAINED,  /* data: u64 bytes of user frames flushed since the previous WSE_DRAINED */
  WSE_CLOSED,   /* data: ws_closed_event, then reason_len bytes of reason, then why_len bytes */
};

enum ws_stage { WS_STAGE_DNS = 1, WS_STAGE_TCP, WS_STAGE_TLS, WS_STAGE_HANDSHAKE, WS_STAGE_PROXY };

/* Compression is split by direction: the binding compresses what it sends (on the worker,
 * with its own pmd_conn made from `pmd`), the net thread inflates what it receives. Both
 * directions' contexts are independent in RFC 7692, so neither side shares state. */
typedef struct ws_open_event {
  pmd_params pmd;        /* what permessage-deflate negotiation agreed; .enabled false: none */
  uint16_t protocol_len; /* the negotiated subprotocol follows (0: none) */
  uint16_t status;       /* of the upgrade response (101) */
  uint32_t headers_len;  /* the response's headers follow the subprotocol */
} ws_open_event;

typedef struct ws_fail_event {
  uint8_t stage;     /* enum ws_stage: what was running */
  uint8_t timeout;   /* the dial deadline passed (TIMEOUT), else a failure (INTERNAL) */
  uint8_t retryable;
  uint8_t pad;
  uint16_t status;   /* HTTP status of the upgrade response, 0 when none came */
  uint16_t msg_len;
  uint16_t location_len; /* Location of a 3xx response (the binding follows it if asked) */
  uint16_t address_len;  /* after location: the address last tried ("[::1]:80"), stage tcp */
} ws_fail_event;

typedef struct ws_closed_event {
  uint16_t code;       /* the peer's close code, 1005 if its frame had none, 1006 if no close
                          frame came; when the client failed the connection (protocol error,
                          read limit, timeouts) the code it sent */
  uint16_t reason_len; /* the close reason that goes with code */
  uint16_t why_len;    /* a diagnostic for error messages ("read timeout", "connection reset
                          by peer", "received close 1000"), never empty */
  uint8_t flags;       /* WS_CLOSED_* */
  uint8_t pad;
} ws_closed_event;

#define WS_CLOSED_BY_PEER 0x1u  /* code and reason are those of the server's close frame */
#define WS_CLOSED_SHUTDOWN 0x2u /* the runtime is stopping */

const char *ws_stage_name(int stage); /* "dns", "tcp", "tls", "handshake", "proxy" */

#endif
