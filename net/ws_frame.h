/* net/ws_frame.h — the WebSocket framing codec of a client (RFC 6455 §5), without sockets.
 *
 * Parser: bytes from the server in, events out. Incremental and allocation-free in the style
 * of picohttpparser: feed whatever arrived, get at most one event per call and the number of
 * bytes consumed, call again with the rest. Data payload is never copied: a data event points
 * into the caller's input. Control frames (≤ 125 bytes) are buffered inside the parser, so
 * they may arrive split across feeds and interleave with the fragments of a data message.
 *
 * Encoder: client frames out (always masked, RFC 6455 §5.3), masking, close payloads, close
 * code rules, and the per-connection masking-key generator. */
#ifndef WISP_NET_WS_FRAME_H
#define WISP_NET_WS_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "net/utf8.h"

enum {
  WS_OP_CONT = 0x0,
  WS_OP_TEXT = 0x1,
  WS_OP_BINARY = 0x2,
  WS_OP_CLOSE = 0x8,
  WS_OP_PING = 0x9,
  WS_OP_PONG = 0xA,
};

enum {
  WS_CLOSE_NORMAL = 1000,
  WS_CLOSE_GOING_AWAY = 1001,
  WS_CLOSE_PROTOCOL_ERROR = 1002,
  WS_CLOSE_UNSUPPORTED_DATA = 1003,
  WS_CLOSE_NO_STATUS = 1005,     /* reported when a close frame has no code; never sent */
  WS_CLOSE_ABNORMAL = 1006,      /* no close frame at all; never sent */
  WS_CLOSE_INVALID_PAYLOAD = 1007,
  WS_CLOSE_POLICY_VIOLATION = 1008,
  WS_CLOSE_TOO_BIG = 1009,
  WS_CLOSE_MANDATORY_EXTENSION = 1010,
  WS_CLOSE_INTERNAL_ERROR = 1011,
};

#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_MAX_CLOSE_REASON 123
#define WS_MAX_FRAME_HEADER 14

/* ---- parser ---------------------------------------------------------------------------- */

enum { WS_NEED_MORE = 0, WS_EVENT = 1, WS_ERROR = -1 };

typedef enum { WS_EV_DATA = 1, WS_EV_PING, WS_EV_PONG, WS_EV_CLOSE } ws_event_type;

/* Flags of a WS_EV_DATA chunk. */
#define WS_DATA_FIRST 0x1u /* first chunk of a message: opcode and RSV1 are new */
#define WS_DATA_FINAL 0x2u /* last chunk of the message */
#define WS_DATA_RSV1 0x4u  /* the message's first frame had RSV1 (permessage-deflate); set on
                              every chunk of such a message */

typedef struct ws_event {
  ws_event_type type;
  int opcode;          /* WS_EV_DATA: WS_OP_TEXT or WS_OP_BINARY, the message's opcode */
  unsigned flags;      /* WS_EV_DATA: WS_DATA_* */
  const uint8_t *data; /* DATA: into the caller's input; PING/PONG payload, CLOSE reason: into
                          the parser (valid until the next ws_parse call). Never NULL. */
  size_t len;
  int code;            /* CLOSE: the received code (1005 when the frame had none);
                          WS_ERROR: the code to close with (1002, 1007 or 1009) */
  const char *reason;  /* WS_ERROR: short human-readable reason (ASCII, ≤ 123 bytes, fits a
                          close frame); points into the parser or static storage */
} ws_event;

typedef struct ws_parser_config {
  uint64_t read_limit; /* max bytes of one message as framed on the wire; 0 = no limit */
  bool rsv1_allowed;   /* permessage-deflate negotiated: RSV1 allowed on a message's first frame */
} ws_parser_config;

typedef struct ws_parser {
  ws_parser_config cfg;
  uint8_t state;
  uint8_t hdr[WS_MAX_FRAME_HEADER];
  uint8_t hdr_len, hdr_need;
  /* the current frame */
  uint8_t opcode;
  bool fin, rsv1;
  uint64_t remaining; /* payload bytes of the current frame not yet consumed */
  /* the current data message; msg_opcode == 0 when none is in progress */
  uint8_t msg_opcode;
  bool msg_rsv1, msg_started, msg_check_utf8;
  uint64_t msg_size;
  utf8_state utf8;
  /* a control frame being buffered */
  uint8_t ctl_len;
  uint8_t ctl[WS_MAX_CONTROL_PAYLOAD];
  uint64_t frames;    /* frame headers parsed so far (statistics) */
  /* sticky error */
  int err_code;
  const char *err_reason;
  char err_buf[64];
} ws_parser;

void ws_parser_init(ws_parser *p, const ws_parser_config *cfg);

/* Parses from data[0..len). Returns WS_EVENT (ev filled), WS_NEED_MORE (everything consumed,
 * nothing to report) or WS_ERROR (ev->code and ev->reason say how to close). *consumed is the
 * number of bytes used in every case; call again with data + *consumed for the rest.
 * Every event consumes at least one byte. After WS_ERROR the parser stays failed and keeps
 * returning the same error. After a WS_EV_CLOSE any further byte is a protocol error. */
int ws_parse(ws_parser *p, const uint8_t *data, size_t len, size_t *consumed, ws_event *ev);

/* True between the first and last chunk of a data message. */
bool ws_parser_in_message(const ws_parser *p);

/* ---- encoder --------------------------------------------------------------------------- */

/* Writes a masked client frame header to out; returns its length (6, 8 or 14), or 0 when the
 * frame would be invalid: unknown opcode, a control frame with fin = false, rsv1 or a payload
 * over 125 bytes, or payload_len ≥ 2^63. Minimal length encoding is always used. */
size_t ws_frame_header(uint8_t out[WS_MAX_FRAME_HEADER], int opcode, bool fin, bool rsv1,
                       uint64_t payload_len, const uint8_t mask[4]);

/* XORs data with the mask in place. offset is the position of data[0] within the frame's
 * payload, so a payload may be masked in pieces. Masking twice restores the data. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset);

/* Close codes a client may send: 1000-1003, 1007-1014, 3000-4999. */
bool ws_close_code_sendable(int code);
/* Close codes acceptable in a received close frame: the same set. 1004-1006 and 1015 are
 * reserved and must not appear on the wire; 0-999, 1016-2999 and ≥ 5000 are unassigned. */
bool ws_close_code_receivable(int code);
/* Checks a close we are about to send; NULL if fine, else a static message.
 * code 0 means "no status code" (empty close payload; reason must then be empty). */
const char *ws_close_check(int code, const void *reason, size_t reason_len);
/* Builds the close payload (big-endian code, then the reason) into out. Returns its length
 * (0 for code 0), or -1 when ws_close_check rejects the arguments. */
int ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], int code, const void *reason,
                     size_t reason_len);

/* ---- masking keys ---------------------------------------------------------------------- */

/* Fills p with n bytes from getrandom(2) (the kernel CSPRNG; blocks only before the pool is
 * first initialised at boot). Returns 0, or -1 with errno set. */
int ws_getrandom(void *p, size_t n);

/* Per-connection masking-key generator: ChaCha20 keyed with 256 bits from getrandom(2), used
 * as a fast-key-erasure generator (every refill replaces the key with fresh keystream). */
#define WS_MASKER_BUF 224
typedef struct ws_masker {
  uint32_t key[8];
  uint8_t buf[WS_MASKER_BUF];
  unsigned pos;
} ws_masker;

int ws_masker_init(ws_masker *m); /* 0, or -1 with errno set when getrandom fails */
void ws_masker_next(ws_masker *m, uint8_t mask[4]);
void ws_masker_wipe(ws_masker *m);

/* The ChaCha20 block function (RFC 8439 §2.3), exposed for its test vector. */
void ws_chacha20_block(uint8_t out[64], const uint32_t key[8], uint32_t counter,
                       const uint32_t nonce[3]);

#endif
