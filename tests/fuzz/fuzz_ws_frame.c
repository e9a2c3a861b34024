/* tests/fuzz/fuzz_ws_frame.c — the frame parser on arbitrary server bytes, fed at once, in
 * random chunks and byte by byte: the event transcripts must be identical and every API
 * invariant must hold (consumption, zero-copy pointers, control sizes, close codes, valid
 * UTF-8 in completed text messages, read limit, sticky errors). Also checks that a client
 * frame built by the encoder, once unmasked, parses back to its payload.
 * Input: byte 0 = config (bit 0 rsv1_allowed, bits 1-3 read limit choice), byte 1 = split
 * seed, rest = the stream. */
#include <stdlib.h>
#include <string.h>
#include "net/ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint64_t hash;       /* rolling hash of the transcript */
  size_t records;
  uint8_t *msg;        /* the message being assembled */
  size_t msg_len, msg_cap;
  int msg_op;
  bool in_msg, msg_rsv1;
  int err_code;
  size_t err_at;
} transcript;

static void mix(transcript *t, uint64_t v) {
  t->hash = (t->hash ^ v) * 1099511628211ULL;
  t->records++;
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void on_event(transcript *t, const ws_event *ev, const ws_parser_config *cfg) {
  switch (ev->type) {
  case WS_EV_DATA:
    if (!!(ev->flags & WS_DATA_FIRST) == t->in_msg) abort();
    if (ev->opcode != WS_OP_TEXT && ev->opcode != WS_OP_BINARY) abort();
    if (ev->flags & WS_DATA_FIRST) {
      t->in_msg = true;
      t->msg_op = ev->opcode;
      t->msg_rsv1 = ev->flags & WS_DATA_RSV1;
      t->msg_len = 0;
    } else if (ev->opcode != t->msg_op || !!(ev->flags & WS_DATA_RSV1) != t->msg_rsv1) {
      abort();
    }
    if (ev->len) {
      if (t->msg_len + ev->len > t->msg_cap) {
        t->msg_cap = (t->msg_len + ev->len) * 2;
        t->msg = realloc(t->msg, t->msg_cap);
      }
      memcpy(t->msg + t->msg_len, ev->data, ev->len);
      t->msg_len += ev->len;
    }
    if (cfg->read_limit && t->msg_len > cfg->read_limit) abort();
    if (ev->flags & WS_DATA_FINAL) {
      if (t->msg_op == WS_OP_TEXT && !t->msg_rsv1 && !utf8_valid(t->msg, t->msg_len)) abort();
      mix(t, (uint64_t)t->msg_op << 56 | (uint64_t)t->msg_rsv1 << 48 | t->msg_len);
      mix(t, fnv(t->msg, t->msg_len));
      t->in_msg = false;
    }
    break;
  case WS_EV_PING:
  case WS_EV_PONG:
    if (ev->len > WS_MAX_CONTROL_PAYLOAD) abort();
    mix(t, (uint64_t)ev->type << 56 | ev->len);
    mix(t, fnv(ev->data, ev->len));
    break;
  case WS_EV_CLOSE:
    if (ev->len > WS_MAX_CLOSE_REASON) abort();
    if (ev->code != WS_CLOSE_NO_STATUS && !ws_close_code_receivable(ev->code)) abort();
    if (ev->code == WS_CLOSE_NO_STATUS && ev->len) abort();
    if (!utf8_valid(ev->data, ev->len)) abort();
    mix(t, (uint64_t)ev->type << 56 | (uint64_t)ev->code << 16 | ev->len);
    mix(t, fnv(ev->data, ev->len));
    break;
  default:
    abort();
  }
}

/* chunk sizes: 0 = everything at once, 1 = byte by byte, else pseudo-random from seed */
static void run(transcript *t, const ws_parser_config *cfg, const uint8_t *in, size_t n,
                int mode, unsigned seed) {
  memset(t, 0, sizeof *t);
  ws_parser p;
  ws_parser_init(&p, cfg);
  size_t start = 0;
  bool closed = false;
  while (start < n) {
    size_t end;
    if (mode == 0) {
      end = n;
    } else if (mode == 1) {
      end = start + 1;
    } else {
      seed = seed * 1103515245u + 12345u;
      end = start + (seed >> 16) % 64;
      if (end > n) end = n;
    }
    size_t off = start;
    for (;;) {
      ws_event ev;
      size_t used;
      int rc = ws_parse(&p, in + off, end - off, &used, &ev);
      if (used > end - off) abort();
      off += used;
      if (rc == WS_NEED_MORE) {
        if (off != end) abort();
        break;
      }
      if (rc == WS_ERROR) {
        if (ev.code != 1002 && ev.code != 1007 && ev.code != 1009) abort();
        if (!ev.reason || strlen(ev.reason) > WS_MAX_CLOSE_REASON) abort();
        t->err_code = ev.code;
        t->err_at = off;
        ws_event ev2;
        size_t used2;
        if (ws_parse(&p, in, n, &used2, &ev2) != WS_ERROR || used2 != 0 || ev2.code != ev.code)
          abort();
        mix(t, 0xE0000000u | (uint64_t)ev.code);
        free(t->msg);
        t->msg = NULL;
        return;
      }
      if (used == 0 || closed) abort();
      if (ev.type == WS_EV_DATA && ev.len && (ev.data < in + start || ev.data + ev.len > in + end))
        abort();
      if (ev.type == WS_EV_CLOSE) closed = true;
      on_event(t, &ev, cfg);
      if (ws_parser_in_message(&p) != t->in_msg) abort();
    }
    start = end;
  }
  free(t->msg);
  t->msg = NULL;
}

static void same(const transcript *a, const transcript *b) {
  if (a->hash != b->hash || a->records != b->records || a->err_code != b->err_code) abort();
}

/* Encoder round trip: a masked client frame, unmasked as a server would, parses back. */
static void encoder_roundtrip(const uint8_t *payload, size_t n, uint8_t sel) {
  static const int ops[] = {WS_OP_BINARY, WS_OP_TEXT, WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE};
  int op = ops[sel % 5];
  bool fin = op >= 0x8 || (sel & 0x10);
  uint8_t mask[4] = {sel, (uint8_t)(sel * 3), (uint8_t)(n), (uint8_t)(sel ^ 0x5A)};
  uint8_t hdr[WS_MAX_FRAME_HEADER];
  size_t hl = ws_frame_header(hdr, op, fin, false, n, mask);
  if (op >= 0x8 && n > 125) {
    if (hl != 0) abort();
    return;
  }
  if (hl == 0) abort();
  uint8_t *frame = malloc(hl + n + 1);
  memcpy(frame, hdr, hl);
  memcpy(frame + hl, payload, n);
  /* mask in two pieces */
  size_t cut = sel % (n + 1);
  ws_mask(frame + hl, cut, mask, 0);
  ws_mask(frame + hl + cut, n - cut, mask, cut);
  if ((frame[1] & 0x80) == 0 || memcmp(frame + hl - 4, mask, 4) != 0) abort();
  /* as received by a server: unmask and drop the key */
  ws_mask(frame + hl, n, mask, 0);
  if (memcmp(frame + hl, payload, n) != 0) abort();
  frame[1] &= 0x7F;
  memmove(frame + hl - 4, frame + hl, n);
  size_t total = hl - 4 + n;
  ws_parser_config cfg = {0, false};
  ws_parser p;
  ws_parser_init(&p, &cfg);
  ws_event ev;
  size_t used, off = 0, got = 0;
  bool failed = false;
  for (;;) {
    int rc = ws_parse(&p, frame + off, total - off, &used, &ev);
    off += used;
    if (rc == WS_NEED_MORE) break;
    if (rc == WS_ERROR) {
      /* only content can be wrong: invalid UTF-8 text or a bad close payload */
      if (op != WS_OP_TEXT && op != WS_OP_CLOSE) abort();
      failed = true;
      break;
    }
    if (ev.type == WS_EV_DATA) {
      if (memcmp(ev.data, payload + got, ev.len) != 0) abort();
      got += ev.len;
    } else if (ev.type == WS_EV_PING || ev.type == WS_EV_PONG) {
      if (ev.len != n || memcmp(ev.data, payload, n) != 0) abort();
      got = n;
    } else {
      got = n;
    }
  }
  if (!failed && (off != total || got != n)) abort();
  free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static const uint64_t limits[] = {0, 1, 10, 125, 126, 1000, 65535, 65536};
  ws_parser_config cfg = {limits[(data[0] >> 1) & 7], data[0] & 1};
  unsigned seed = data[1];
  const uint8_t *in = data + 2;
  size_t n = size - 2;
  /* a copy of exactly n bytes so ASan sees reads past the end */
  uint8_t *copy = malloc(n ? n : 1);
  memcpy(copy, in, n);
  transcript all, part, bytes;
  run(&all, &cfg, copy, n, 0, 0);
  run(&part, &cfg, copy, n, 2, seed);
  same(&all, &part);
  if (n <= 4096) {
    run(&bytes, &cfg, copy, n, 1, 0);
    same(&all, &bytes);
    if (bytes.err_at != all.err_at) abort();
  }
  encoder_roundtrip(copy, n, data[1]);
  free(copy);
  return 0;
}
