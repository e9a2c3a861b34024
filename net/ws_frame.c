/* net/ws_frame.c — WebSocket frame parser (server → client), frame encoder (client → server),
 * close-code rules and masking keys.
 *
 * Parser decisions:
 * - Every rule is checked on the byte that reveals the violation (fail fast): opcode, RSV and
 *   fragmentation rules on the first header byte, the mask bit and control lengths on the
 *   second, the 64-bit length's top bit on the third, the read limit as soon as the length is
 *   known (before any payload is read), UTF-8 on every payload chunk as it arrives.
 * - Non-minimal length encodings (e.g. 5 encoded in 16 bits) are accepted. RFC 6455 §5.2 makes
 *   minimal encoding a sender obligation but names no receiver reaction; the length is bounded
 *   by read_limit either way, Autobahn does not test it, and rejecting would only break
 *   interoperation with sloppy servers.
 * - read_limit counts the payload bytes of a data message as framed on the wire. For
 *   compressed (RSV1) messages the inflated size is the inflater's business, and so is their
 *   UTF-8 check: the parser does not validate text whose first frame had RSV1.
 * - Zero-length data frames produce an event only when they start or end a message. */
#include "net/ws_frame.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

enum { S_HDR, S_PAYLOAD, S_CONTROL, S_CLOSED, S_ERROR };

static const uint8_t no_bytes[1]; /* data of empty chunks: never NULL, so memcpy(dst, data, 0)
                                     stays defined */

static bool is_control(int op) { return op >= 0x8; }

void ws_parser_init(ws_parser *p, const ws_parser_config *cfg) {
  memset(p, 0, sizeof *p);
  if (cfg) p->cfg = *cfg;
  p->state = S_HDR;
  p->hdr_need = 2;
}

bool ws_parser_in_message(const ws_parser *p) { return p->msg_opcode != 0; }

static int fail(ws_parser *p, ws_event *ev, int code, const char *reason) {
  p->state = S_ERROR;
  p->err_code = code;
  p->err_reason = reason;
  ev->code = code;
  ev->reason = reason;
  return WS_ERROR;
}

/* Takes one header byte. Returns 0 when more header bytes are needed, 1 when the header is
 * complete, WS_ERROR on a violation. */
static int header_byte(ws_parser *p, uint8_t b, ws_event *ev) {
  p->hdr[p->hdr_len++] = b;
  if (p->hdr_len == 1) {
    int op = b & 0x0F;
    p->fin = (b & 0x80) != 0;
    p->rsv1 = (b & 0x40) != 0;
    p->opcode = (uint8_t)op;
    if (b & 0x30) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "reserved bits RSV2/RSV3 set");
    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
        op != WS_OP_PING && op != WS_OP_PONG) {
      snprintf(p->err_buf, sizeof p->err_buf, "reserved opcode 0x%X", (unsigned)op);
      return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, p->err_buf);
    }
    if (p->rsv1 && !p->cfg.rsv1_allowed)
      return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set without a negotiated extension");
    if (is_control(op)) {
      if (!p->fin) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
      if (p->rsv1) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a control frame");
    } else if (op == WS_OP_CONT) {
      if (!p->msg_opcode)
        return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR,
                    "continuation frame without a message in progress");
      if (p->rsv1)
        return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a continuation frame");
    } else if (p->msg_opcode) {
      return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR,
                  "new data frame while a fragmented message is in progress");
    }
    return 0;
  }
  if (p->hdr_len == 2) {
    unsigned len7 = b & 0x7F;
    if (b & 0x80) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "masked frame from server");
    if (is_control(p->opcode) && len7 > WS_MAX_CONTROL_PAYLOAD)
      return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "control frame payload longer than 125 bytes");
    p->hdr_need = (uint8_t)(len7 == 126 ? 4 : len7 == 127 ? 10 : 2);
  } else if (p->hdr_len == 3 && p->hdr_need == 10 && (b & 0x80)) {
    return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "64-bit payload length with the top bit set");
  }
  return p->hdr_len == p->hdr_need;
}

static uint64_t header_length(const ws_parser *p) {
  unsigned len7 = p->hdr[1] & 0x7F;
  if (len7 < 126) return len7;
  if (len7 == 126) return (uint64_t)p->hdr[2] << 8 | p->hdr[3];
  uint64_t n = 0;
  for (int i = 2; i < 10; i++) n = n << 8 | p->hdr[i];
  return n;
}

static void fill_data(ws_parser *p, ws_event *ev, const uint8_t *data, size_t len, bool final) {
  ev->type = WS_EV_DATA;
  ev->opcode = p->msg_opcode;
  ev->flags = (p->msg_started ? 0 : WS_DATA_FIRST) | (final ? WS_DATA_FINAL : 0) |
              (p->msg_rsv1 ? WS_DATA_RSV1 : 0);
  ev->data = data;
  ev->len = len;
  p->msg_started = true;
  if (final) p->msg_opcode = 0;
}

static int end_of_text_check(ws_parser *p, ws_event *ev) {
  if (p->msg_check_utf8 && !utf8_complete(&p->utf8))
    return fail(p, ev, WS_CLOSE_INVALID_PAYLOAD, "text message ends inside a UTF-8 sequence");
  return 0;
}

static void next_header(ws_parser *p) {
  p->state = S_HDR;
  p->hdr_len = 0;
  p->hdr_need = 2;
}

/* A complete control frame sits in p->ctl. */
static int control_event(ws_parser *p, ws_event *ev) {
  ev->data = p->ctl;
  ev->len = p->ctl_len;
  if (p->opcode == WS_OP_PING || p->opcode == WS_OP_PONG) {
    ev->type = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
    next_header(p);
    return WS_EVENT;
  }
  ev->type = WS_EV_CLOSE;
  if (p->ctl_len == 0) {
    ev->code = WS_CLOSE_NO_STATUS;
  } else if (p->ctl_len == 1) {
    return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
  } else {
    int code = p->ctl[0] << 8 | p->ctl[1];
    if (!ws_close_code_receivable(code)) {
      snprintf(p->err_buf, sizeof p->err_buf, "invalid close code %d", code);
      return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, p->err_buf);
    }
    if (!utf8_valid(p->ctl + 2, p->ctl_len - 2u))
      return fail(p, ev, WS_CLOSE_INVALID_PAYLOAD, "close reason is not valid UTF-8");
    ev->code = code;
    ev->data = p->ctl + 2;
    ev->len = p->ctl_len - 2u;
  }
  p->state = S_CLOSED;
  return WS_EVENT;
}

/* The header is complete: set up the frame. Returns WS_EVENT, WS_ERROR, or WS_NEED_MORE to
 * mean "no event yet, keep parsing". */
static int begin_frame(ws_parser *p, ws_event *ev) {
  uint64_t len = header_length(p);
  p->frames++;
  p->remaining = len;
  if (is_control(p->opcode)) {
    p->ctl_len = 0;
    if (len == 0) return control_event(p, ev);
    p->state = S_CONTROL;
    return WS_NEED_MORE;
  }
  if (p->opcode != WS_OP_CONT) { /* first frame of a message */
    p->msg_opcode = p->opcode;
    p->msg_rsv1 = p->rsv1;
    p->msg_started = false;
    p->msg_check_utf8 = p->opcode == WS_OP_TEXT && !p->rsv1;
    p->msg_size = 0;
    utf8_init(&p->utf8);
  }
  uint64_t limit = p->cfg.read_limit ? p->cfg.read_limit : UINT64_MAX;
  if (len > limit - p->msg_size) {
    snprintf(p->err_buf, sizeof p->err_buf, "message exceeds the read limit of %llu bytes",
             (unsigned long long)limit);
    return fail(p, ev, WS_CLOSE_TOO_BIG, p->err_buf);
  }
  p->msg_size += len;
  if (len > 0) {
    p->state = S_PAYLOAD;
    return WS_NEED_MORE;
  }
  next_header(p);
  if (p->fin) {
    if (end_of_text_check(p, ev) == WS_ERROR) return WS_ERROR;
    fill_data(p, ev, no_bytes, 0, true);
    return WS_EVENT;
  }
  if (!p->msg_started) {
    fill_data(p, ev, no_bytes, 0, false);
    return WS_EVENT;
  }
  return WS_NEED_MORE;
}

int ws_parse(ws_parser *p, const uint8_t *data, size_t len, size_t *consumed, ws_event *ev) {
  size_t i = 0;
  int r;
  memset(ev, 0, sizeof *ev);
  for (;;) {
    switch (p->state) {
    case S_HDR:
      r = 0;
      while (i < len && (r = header_byte(p, data[i++], ev)) == 0) {}
      if (r == WS_ERROR) goto out_error;
      if (r == 0) goto out_need_more;
      r = begin_frame(p, ev);
      if (r == WS_ERROR) goto out_error;
      if (r == WS_EVENT) {
        *consumed = i;
        return WS_EVENT;
      }
      break;
    case S_PAYLOAD: {
      if (i == len) goto out_need_more;
      size_t n = len - i;
      if (p->remaining < n) n = (size_t)p->remaining;
      const uint8_t *chunk = data + i;
      if (p->msg_check_utf8) {
        size_t ok = utf8_feed_prefix(&p->utf8, chunk, n);
        if (ok < n) {
          i += ok + 1; /* consumed through the offending byte */
          fail(p, ev, WS_CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in text message");
          goto out_error;
        }
      }
      i += n;
      p->remaining -= n;
      bool final = p->remaining == 0 && p->fin;
      if (final && end_of_text_check(p, ev) == WS_ERROR) goto out_error;
      if (p->remaining == 0) next_header(p);
      fill_data(p, ev, chunk, n, final);
      *consumed = i;
      return WS_EVENT;
    }
    case S_CONTROL: {
      if (i == len) goto out_need_more;
      size_t n = len - i;
      if (p->remaining < n) n = (size_t)p->remaining;
      memcpy(p->ctl + p->ctl_len, data + i, n);
      p->ctl_len = (uint8_t)(p->ctl_len + n);
      p->remaining -= n;
      i += n;
      if (p->remaining) goto out_need_more;
      r = control_event(p, ev);
      *consumed = i;
      return r;
    }
    case S_CLOSED:
      if (i == len) goto out_need_more;
      fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "data after the close frame");
      i++;
      goto out_error;
    default: /* S_ERROR */
      ev->code = p->err_code;
      ev->reason = p->err_reason;
      *consumed = i;
      return WS_ERROR;
    }
  }
out_need_more:
  *consumed = i;
  return WS_NEED_MORE;
out_error:
  *consumed = i;
  return WS_ERROR;
}

/* ---- encoder --------------------------------------------------------------------------- */

size_t ws_frame_header(uint8_t out[WS_MAX_FRAME_HEADER], int opcode, bool fin, bool rsv1,
                       uint64_t payload_len, const uint8_t mask[4]) {
  switch (opcode) {
  case WS_OP_CONT: case WS_OP_TEXT: case WS_OP_BINARY:
    break;
  case WS_OP_CLOSE: case WS_OP_PING: case WS_OP_PONG:
    if (!fin || rsv1 || payload_len > WS_MAX_CONTROL_PAYLOAD) return 0;
    break;
  default:
    return 0;
  }
  if (payload_len >> 63) return 0;
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
  if (payload_len < 126) {
    out[n++] = (uint8_t)(0x80 | payload_len);
  } else if (payload_len <= 0xFFFF) {
    out[n++] = 0x80 | 126;
    out[n++] = (uint8_t)(payload_len >> 8);
    out[n++] = (uint8_t)payload_len;
  } else {
    out[n++] = 0x80 | 127;
    for (int s = 56; s >= 0; s -= 8) out[n++] = (uint8_t)(payload_len >> s);
  }
  memcpy(out + n, mask, 4);
  return n + 4;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t offset) {
  uint8_t m[8];
  for (int k = 0; k < 8; k++) m[k] = mask[(offset + (size_t)k) & 3];
  uint64_t w;
  memcpy(&w, m, 8);
  size_t i = 0;
  for (; len - i >= 32; i += 32) {
    uint64_t x[4];
    memcpy(x, data + i, 32);
    x[0] ^= w;
    x[1] ^= w;
    x[2] ^= w;
    x[3] ^= w;
    memcpy(data + i, x, 32);
  }
  for (; len - i >= 8; i += 8) {
    uint64_t x;
    memcpy(&x, data + i, 8);
    x ^= w;
    memcpy(data + i, &x, 8);
  }
  for (; i < len; i++) data[i] ^= m[i & 7];
}

/* 1012 (service restart), 1013 (try again later) and 1014 (bad gateway) are registered with
 * IANA after RFC 6455 and are valid both ways; current Autobahn lists them neither as valid
 * (7.7.x) nor as invalid (7.9.x: 0, 999, 1004-1006, 1016, 1100, 2000, 2999). */
bool ws_close_code_sendable(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

bool ws_close_code_receivable(int code) { return ws_close_code_sendable(code); }

const char *ws_close_check(int code, const void *reason, size_t reason_len) {
  if (code == 0) return reason_len ? "a close reason needs a close code" : NULL;
  if (!ws_close_code_sendable(code))
    return "close code must be 1000-1003, 1007-1014 or 3000-4999";
  if (reason_len > WS_MAX_CLOSE_REASON) return "close reason is longer than 123 bytes";
  if (!utf8_valid(reason, reason_len)) return "close reason is not valid UTF-8";
  return NULL;
}

int ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], int code, const void *reason,
                     size_t reason_len) {
  if (ws_close_check(code, reason, reason_len)) return -1;
  if (code == 0) return 0;
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  if (reason_len) memcpy(out + 2, reason, reason_len);
  return (int)(2 + reason_len);
}

/* ---- masking keys ----------------------------------------------------------------------
 * RFC 6455 §5.3 wants each frame's key unpredictable to the application that supplies the
 * payload (a script must not be able to make masked bytes it chose look like something an
 * intermediary would misread). ChaCha20 keyed with 256 bits of kernel randomness is a CSPRNG:
 * its output is computationally indistinguishable from random, and since every refill
 * overwrites the key with the first 32 bytes of fresh keystream (fast key erasure), neither
 * past nor future keys can be derived from the masks a peer observes. One getrandom call per
 * connection, no syscall per frame, no lock: the generator belongs to one connection. */

int ws_getrandom(void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = getrandom(b, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

#define ROTL32(v, c) (((v) << (c)) | ((v) >> (32 - (c))))
#define QR(a, b, c, d)                                                    \
  do {                                                                    \
    a += b; d ^= a; d = ROTL32(d, 16);                                    \
    c += d; b ^= c; b = ROTL32(b, 12);                                    \
    a += b; d ^= a; d = ROTL32(d, 8);                                     \
    c += d; b ^= c; b = ROTL32(b, 7);                                     \
  } while (0)

void ws_chacha20_block(uint8_t out[64], const uint32_t key[8], uint32_t counter,
                       const uint32_t nonce[3]) {
  uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, key[0], key[1], key[2],
                     key[3], key[4], key[5], key[6], key[7], counter, nonce[0], nonce[1],
                     nonce[2]};
  uint32_t x[16];
  memcpy(x, in, sizeof x);
  for (int r = 0; r < 10; r++) {
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) {
    uint32_t v = x[i] + in[i];
    out[4 * i] = (uint8_t)v;
    out[4 * i + 1] = (uint8_t)(v >> 8);
    out[4 * i + 2] = (uint8_t)(v >> 16);
    out[4 * i + 3] = (uint8_t)(v >> 24);
  }
}

/* Four blocks: the first 32 bytes become the next key, the other 224 are handed out. */
static void masker_refill(ws_masker *m) {
  static const uint32_t nonce[3] = {0, 0, 0};
  uint8_t blocks[256];
  for (uint32_t c = 0; c < 4; c++) ws_chacha20_block(blocks + 64 * c, m->key, c, nonce);
  for (int i = 0; i < 8; i++)
    m->key[i] = (uint32_t)blocks[4 * i] | (uint32_t)blocks[4 * i + 1] << 8 |
                (uint32_t)blocks[4 * i + 2] << 16 | (uint32_t)blocks[4 * i + 3] << 24;
  memcpy(m->buf, blocks + 32, WS_MASKER_BUF);
  explicit_bzero(blocks, sizeof blocks);
  m->pos = 0;
}

int ws_masker_init(ws_masker *m) {
  memset(m, 0, sizeof *m);
  if (ws_getrandom(m->key, sizeof m->key) < 0) return -1;
  m->pos = WS_MASKER_BUF;
  return 0;
}

void ws_masker_next(ws_masker *m, uint8_t mask[4]) {
  if (m->pos + 4 > WS_MASKER_BUF) masker_refill(m);
  memcpy(mask, m->buf + m->pos, 4);
  explicit_bzero(m->buf + m->pos, 4);
  m->pos += 4;
}

void ws_masker_wipe(ws_masker *m) { explicit_bzero(m, sizeof *m); }
