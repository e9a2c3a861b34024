/* tests/unit/test_ws_frame.c — the frame parser and encoder: RFC 6455 §5.7 examples, every
 * protocol rule with its close code and the exact byte it fails on, length encodings at their
 * boundaries, fragmentation and interleaved control frames, incremental UTF-8, close frames,
 * masking at every alignment, close payloads and the masking-key generator. Every parser
 * vector is run fed at once, byte by byte, split at every point and in random chunks, and
 * all runs must produce the same transcript. */
#include <stdlib.h>
#include "core/buf.h"
#include "net/ws_frame.h"
#include "tests/unit/t.h"

/* ---- helpers --------------------------------------------------------------------------- */

/* A server frame: first byte b0 (FIN, RSV, opcode), minimal length encoding, no mask. */
static size_t sframe(uint8_t *out, int b0, const void *payload, size_t len) {
  size_t n = 0;
  out[n++] = (uint8_t)b0;
  if (len < 126) {
    out[n++] = (uint8_t)len;
  } else if (len <= 0xFFFF) {
    out[n++] = 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = 127;
    for (int s = 56; s >= 0; s -= 8) out[n++] = (uint8_t)((uint64_t)len >> s);
  }
  if (len) memcpy(out + n, payload, len);
  return n + len;
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void log_bytes(wbuf *log, const uint8_t *p, size_t n) {
  if (n > 48) {
    wbuf_printf(log, "<%zu bytes %016llx>", n, (unsigned long long)fnv(p, n));
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\')
      wbuf_putc(log, p[i]);
    else
      wbuf_printf(log, "\\x%02x", p[i]);
  }
}

typedef struct {
  wbuf log;       /* transcript: messages, control frames, error */
  wbuf msg;       /* the message being assembled */
  bool in_msg;
  int msg_op;
  unsigned msg_flags;
  bool error;
  int err_code;
  size_t err_at;  /* total bytes consumed when the error came */
  size_t events;
  bool broken;    /* an API invariant was violated */
} run_result;

enum { FEED_ALL, FEED_BYTES, FEED_SPLIT, FEED_RANDOM };

static void handle(run_result *r, const ws_event *ev) {
  r->events++;
  switch (ev->type) {
  case WS_EV_DATA:
    if (!!(ev->flags & WS_DATA_FIRST) == r->in_msg) r->broken = true;
    if (ev->flags & WS_DATA_FIRST) {
      r->in_msg = true;
      r->msg_op = ev->opcode;
      r->msg_flags = ev->flags & WS_DATA_RSV1;
      wbuf_reset(&r->msg);
    } else if (ev->opcode != r->msg_op || (ev->flags & WS_DATA_RSV1) != r->msg_flags) {
      r->broken = true;
    }
    if (ev->len) wbuf_append(&r->msg, ev->data, ev->len);
    if (ev->flags & WS_DATA_FINAL) {
      wbuf_printf(&r->log, "%s%s:", ev->opcode == WS_OP_TEXT ? "TEXT" : "BIN",
                  r->msg_flags ? "+z" : "");
      log_bytes(&r->log, (const uint8_t *)r->msg.data, r->msg.len);
      wbuf_putc(&r->log, '|');
      r->in_msg = false;
    }
    break;
  case WS_EV_PING:
  case WS_EV_PONG:
    if (ev->len > 125) r->broken = true;
    wbuf_printf(&r->log, "%s:", ev->type == WS_EV_PING ? "PING" : "PONG");
    log_bytes(&r->log, ev->data, ev->len);
    wbuf_putc(&r->log, '|');
    break;
  case WS_EV_CLOSE:
    wbuf_printf(&r->log, "CLOSE:%d:", ev->code);
    log_bytes(&r->log, ev->data, ev->len);
    wbuf_putc(&r->log, '|');
    break;
  default:
    r->broken = true;
  }
}

/* Feeds in[0..n) as chunks ending at the given boundaries. */
static void feed(run_result *r, const ws_parser_config *cfg, const uint8_t *in, size_t n,
                 const size_t *ends, size_t nends) {
  ws_parser p;
  ws_parser_init(&p, cfg);
  size_t start = 0;
  for (size_t k = 0; k < nends && !r->error; k++) {
    size_t off = start, end = ends[k];
    for (;;) {
      ws_event ev;
      size_t used = 12345;
      int rc = ws_parse(&p, in + off, end - off, &used, &ev);
      if (used > end - off) r->broken = true;
      off += used;
      if (rc == WS_NEED_MORE) {
        if (off != end) r->broken = true;
        break;
      }
      if (rc == WS_ERROR) {
        r->error = true;
        r->err_code = ev.code;
        r->err_at = off;
        if (!ev.reason || strlen(ev.reason) > WS_MAX_CLOSE_REASON) r->broken = true;
        wbuf_printf(&r->log, "ERROR:%d", ev.code);
        /* the error is sticky */
        ws_event ev2;
        size_t used2 = 99;
        if (ws_parse(&p, in, n, &used2, &ev2) != WS_ERROR || ev2.code != ev.code ||
            used2 != 0 || strcmp(ev2.reason, ev.reason) != 0)
          r->broken = true;
        break;
      }
      if (used == 0) r->broken = true;
      if (ev.type == WS_EV_DATA && ev.len &&
          (ev.data < in + start || ev.data + ev.len > in + end))
        r->broken = true;
      handle(r, &ev);
    }
    start = end;
  }
}

static void run(run_result *r, const ws_parser_config *cfg, const uint8_t *in, size_t n,
                int mode, size_t arg) {
  memset(r, 0, sizeof *r);
  size_t *ends = malloc((n + 2) * sizeof *ends), nends = 0;
  if (mode == FEED_ALL) {
    ends[nends++] = n;
  } else if (mode == FEED_BYTES) {
    for (size_t i = 1; i <= n; i++) ends[nends++] = i;
  } else if (mode == FEED_SPLIT) {
    ends[nends++] = arg;
    ends[nends++] = n;
  } else {
    unsigned seed = (unsigned)arg;
    size_t pos = 0;
    while (pos < n) {
      seed = seed * 1103515245u + 12345u;
      size_t step = (seed >> 16) % 40;
      pos = pos + step > n ? n : pos + step;
      ends[nends++] = pos;
    }
  }
  feed(r, cfg, in, n, ends, nends);
  free(ends);
  wbuf_putc(&r->log, 0);
}

static void run_free(run_result *r) {
  wbuf_free(&r->log);
  wbuf_free(&r->msg);
}

/* Runs a vector in every feeding mode; all transcripts must equal expect. Returns the byte
 * count consumed at the error when fed byte by byte (0 when no error). */
static size_t check_vector_cfg(const ws_parser_config *cfg, const uint8_t *in, size_t n,
                               const char *expect) {
  run_result all, one;
  run(&all, cfg, in, n, FEED_ALL, 0);
  CHECK(!all.broken);
  CHECK_STR(all.log.data, expect);
  run(&one, cfg, in, n, FEED_BYTES, 0);
  CHECK(!one.broken);
  CHECK_STR(one.log.data, expect);
  CHECK_EQ(one.err_at, all.err_at);
  size_t err_at = one.err_at;
  run_free(&one);
  size_t step = n > 300 ? n / 97 + 1 : 1;
  for (size_t s = 0; s <= n; s += step) {
    run_result sp;
    run(&sp, cfg, in, n, FEED_SPLIT, s);
    CHECK(!sp.broken);
    CHECK_STR(sp.log.data, expect);
    if (strcmp(sp.log.data, expect) != 0) fprintf(stderr, "  (split at %zu)\n", s);
    run_free(&sp);
  }
  for (unsigned seed = 1; seed <= 20; seed++) {
    run_result rr;
    run(&rr, cfg, in, n, FEED_RANDOM, seed);
    CHECK(!rr.broken);
    CHECK_STR(rr.log.data, expect);
    run_free(&rr);
  }
  run_free(&all);
  return err_at;
}

static const ws_parser_config plain = {0, false};

static size_t check_vector(const uint8_t *in, size_t n, const char *expect) {
  return check_vector_cfg(&plain, in, n, expect);
}

#define VEC(lit, expect) check_vector((const uint8_t *)(lit), sizeof(lit) - 1, expect)

/* ---- RFC 6455 §5.7 --------------------------------------------------------------------- */

static void test_rfc_examples(void) {
  VEC("\x81\x05Hello", "TEXT:Hello|");
  /* a masked frame from the server is a protocol error, found on its second byte */
  CHECK_EQ(VEC("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", "ERROR:1002"), 2);
  VEC("\x01\x03Hel\x80\x02lo", "TEXT:Hello|");
  VEC("\x89\x05Hello", "PING:Hello|");
  CHECK_EQ(VEC("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", "ERROR:1002"), 2);

  uint8_t buf[65536 + 14], payload[65536];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7 + 3);
  size_t n = sframe(buf, 0x82, payload, 256);
  CHECK(memcmp(buf, "\x82\x7E\x01\x00", 4) == 0);
  char expect[128];
  snprintf(expect, sizeof expect, "BIN:<256 bytes %016llx>|",
           (unsigned long long)fnv(payload, 256));
  check_vector(buf, n, expect);
  n = sframe(buf, 0x82, payload, 65536);
  CHECK(memcmp(buf, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
  snprintf(expect, sizeof expect, "BIN:<65536 bytes %016llx>|",
           (unsigned long long)fnv(payload, 65536));
  check_vector(buf, n, expect);
}

static void test_encoder_rfc_examples(void) {
  static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  uint8_t out[64];
  size_t h = ws_frame_header(out, WS_OP_TEXT, true, false, 5, mask);
  CHECK_EQ(h, 6);
  memcpy(out + h, "Hello", 5);
  ws_mask(out + h, 5, mask, 0);
  CHECK(memcmp(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0);
  h = ws_frame_header(out, WS_OP_PONG, true, false, 5, mask);
  memcpy(out + h, "Hello", 5);
  ws_mask(out + h, 5, mask, 0);
  CHECK(memcmp(out, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0);
  h = ws_frame_header(out, WS_OP_TEXT, false, false, 3, mask);
  CHECK_EQ(out[0], 0x01);
  h = ws_frame_header(out, WS_OP_CONT, true, false, 2, mask);
  CHECK_EQ(out[0], 0x80);
  h = ws_frame_header(out, WS_OP_BINARY, true, true, 2, mask);
  CHECK_EQ(out[0], 0xC2);
}

/* ---- protocol rules -------------------------------------------------------------------- */

static void test_rsv_bits(void) {
  CHECK_EQ(VEC("\xA1\x00", "ERROR:1002"), 1);       /* RSV2 */
  CHECK_EQ(VEC("\x91\x00", "ERROR:1002"), 1);       /* RSV3 */
  CHECK_EQ(VEC("\xC1\x01" "a", "ERROR:1002"), 1);   /* RSV1 without extension */
  CHECK_EQ(VEC("\xF1\x00", "ERROR:1002"), 1);
  ws_parser_config z = {0, true};
  check_vector_cfg(&z, (const uint8_t *)"\xC1\x01" "a", 3, "TEXT+z:a|");
  /* compressed text is not UTF-8 checked here: the inflater's caller does that */
  check_vector_cfg(&z, (const uint8_t *)"\xC1\x02\xff\xfe", 4, "TEXT+z:\\xff\\xfe|");
  check_vector_cfg(&z, (const uint8_t *)"\x41\x01" "a\x80\x01" "b", 6, "TEXT+z:ab|");
  /* RSV1 only on the first frame of a message, never on control frames */
  CHECK_EQ(check_vector_cfg(&z, (const uint8_t *)"\x41\x01" "a\xC0\x01" "b", 6, "ERROR:1002"), 4);
  CHECK_EQ(check_vector_cfg(&z, (const uint8_t *)"\xC9\x00", 2, "ERROR:1002"), 1);
  CHECK_EQ(check_vector_cfg(&z, (const uint8_t *)"\xA1\x00", 2, "ERROR:1002"), 1);
}

static void test_reserved_opcodes(void) {
  static const int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    uint8_t f[3] = {(uint8_t)(0x80 | ops[i]), 0x01, 'x'};
    CHECK_EQ(check_vector(f, 3, "ERROR:1002"), 1);
    /* also in the middle of a fragmented message */
    uint8_t g[6] = {0x01, 0x01, 'a', (uint8_t)(0x80 | ops[i]), 0x00};
    CHECK_EQ(check_vector(g, 5, "ERROR:1002"), 4);
  }
}

static void test_control_frame_rules(void) {
  CHECK_EQ(VEC("\x09\x00", "ERROR:1002"), 1);             /* ping with FIN=0 */
  CHECK_EQ(VEC("\x08\x00", "ERROR:1002"), 1);             /* close with FIN=0 */
  CHECK_EQ(VEC("\x89\x7E\x00\x7E", "ERROR:1002"), 2);     /* length 126 */
  CHECK_EQ(VEC("\x8A\x7F", "ERROR:1002"), 2);
  uint8_t buf[200], payload[125];
  memset(payload, 'p', sizeof payload);
  size_t n = sframe(buf, 0x89, payload, 125);
  char expect[300];
  snprintf(expect, sizeof expect, "PING:<125 bytes %016llx>|",
           (unsigned long long)fnv(payload, 125));
  check_vector(buf, n, expect);
  VEC("\x89\x00\x8A\x00", "PING:|PONG:|");
  VEC("\x8A\x03" "abc", "PONG:abc|");
}

static void test_fragmentation_rules(void) {
  CHECK_EQ(VEC("\x80\x00", "ERROR:1002"), 1);                      /* no message */
  CHECK_EQ(VEC("\x00\x01" "a", "ERROR:1002"), 1);
  CHECK_EQ(VEC("\x81\x01" "a\x80\x01" "b", "TEXT:a|ERROR:1002"), 4); /* after a final frame */
  CHECK_EQ(VEC("\x01\x01" "a\x81\x01" "b", "ERROR:1002"), 4);      /* new text in progress */
  CHECK_EQ(VEC("\x01\x01" "a\x02\x01" "b", "ERROR:1002"), 4);
  /* control frames interleave with fragments */
  VEC("\x01\x02" "ab\x89\x02" "pp\x00\x00\x8A\x01" "q\x80\x01" "c", "PING:pp|PONG:q|TEXT:abc|");
  VEC("\x02\x01\x01\x88\x02\x03\xe8", "CLOSE:1000:|");
  /* several messages in a row, mixed */
  VEC("\x82\x02\x00\x01\x81\x00\x01\x00\x80\x01" "z\x89\x00",
      "BIN:\\x00\\x01|TEXT:|TEXT:z|PING:|");
}

static void test_empty_frames(void) {
  ws_parser p;
  ws_parser_init(&p, &plain);
  ws_event ev;
  size_t used;
  const uint8_t in[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00};
  CHECK_EQ(ws_parse(&p, in, sizeof in, &used, &ev), WS_EVENT);
  CHECK_EQ(used, 2);
  CHECK_EQ(ev.type, WS_EV_DATA);
  CHECK_EQ(ev.flags, WS_DATA_FIRST);
  CHECK_EQ(ev.len, 0);
  CHECK(ws_parser_in_message(&p));
  /* empty middle fragments produce no event */
  CHECK_EQ(ws_parse(&p, in + 2, sizeof in - 2, &used, &ev), WS_EVENT);
  CHECK_EQ(used, 6);
  CHECK_EQ(ev.flags, WS_DATA_FINAL);
  CHECK_EQ(ev.opcode, WS_OP_TEXT);
  CHECK(!ws_parser_in_message(&p));
  VEC("\x01\x00\x00\x00\x80\x00", "TEXT:|");
  VEC("\x82\x00", "BIN:|");
}

static void test_lengths(void) {
  static const size_t sizes[] = {0, 1, 124, 125, 126, 127, 65535, 65536, 70000};
  static uint8_t buf[70000 + 14], payload[70000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i ^ (i >> 8));
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t len = sizes[k];
    size_t n = sframe(buf, 0x82, payload, len);
    CHECK_EQ(n - len, len < 126 ? 2 : len <= 65535 ? 4 : 10);
    char expect[128] = "BIN:";
    if (len <= 48) {
      wbuf l = WBUF_INIT;
      wbuf_printf(&l, "BIN:");
      log_bytes(&l, payload, len);
      wbuf_printf(&l, "|");
      wbuf_putc(&l, 0);
      snprintf(expect, sizeof expect, "%s", l.data);
      wbuf_free(&l);
    } else {
      snprintf(expect, sizeof expect, "BIN:<%zu bytes %016llx>|", len,
               (unsigned long long)fnv(payload, len));
    }
    check_vector(buf, n, expect);
    /* the encoder picks the same encodings */
    uint8_t h[WS_MAX_FRAME_HEADER];
    static const uint8_t m[4] = {1, 2, 3, 4};
    size_t hl = ws_frame_header(h, WS_OP_BINARY, true, false, len, m);
    CHECK_EQ(hl, (n - len) + 4);
    CHECK_EQ(h[1] & 0x80, 0x80);
    CHECK(memcmp(h + 2, buf + 2, n - len - 2) == 0);
    CHECK(memcmp(h + hl - 4, m, 4) == 0);
  }
  /* non-minimal encodings are accepted */
  VEC("\x81\x7E\x00\x05Hello", "TEXT:Hello|");
  VEC("\x81\x7F\x00\x00\x00\x00\x00\x00\x00\x05Hello", "TEXT:Hello|");
  VEC("\x81\x7E\x00\x00", "TEXT:|");
  /* 64-bit length with the top bit set fails on that byte */
  CHECK_EQ(VEC("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x01", "ERROR:1002"), 3);
  CHECK_EQ(VEC("\x82\x7F\xFF", "ERROR:1002"), 3);
  /* a huge (valid) length with no limit just waits for the payload */
  ws_parser p;
  ws_parser_init(&p, &plain);
  ws_event ev;
  size_t used;
  const uint8_t big[] = {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'a'};
  CHECK_EQ(ws_parse(&p, big, sizeof big, &used, &ev), WS_EVENT);
  CHECK_EQ(ev.len, 1);
  CHECK_EQ(ev.flags, WS_DATA_FIRST);
}

static void test_encoder_rejects(void) {
  uint8_t h[WS_MAX_FRAME_HEADER];
  static const uint8_t m[4] = {0};
  CHECK_EQ(ws_frame_header(h, 3, true, false, 0, m), 0);
  CHECK_EQ(ws_frame_header(h, 0xB, true, false, 0, m), 0);
  CHECK_EQ(ws_frame_header(h, 16, true, false, 0, m), 0);
  CHECK_EQ(ws_frame_header(h, WS_OP_PING, false, false, 0, m), 0);
  CHECK_EQ(ws_frame_header(h, WS_OP_PING, true, true, 0, m), 0);
  CHECK_EQ(ws_frame_header(h, WS_OP_CLOSE, true, false, 126, m), 0);
  CHECK_EQ(ws_frame_header(h, WS_OP_CLOSE, true, false, 125, m), 6);
  CHECK_EQ(ws_frame_header(h, WS_OP_BINARY, true, false, UINT64_C(1) << 63, m), 0);
  CHECK_EQ(ws_frame_header(h, WS_OP_BINARY, true, false, (UINT64_C(1) << 63) - 1, m), 14);
  CHECK(memcmp(h, "\x82\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 10) == 0);
}

static void test_read_limit(void) {
  ws_parser_config lim = {10, false};
  uint8_t buf[64];
  size_t n = sframe(buf, 0x82, "0123456789", 10);
  check_vector_cfg(&lim, buf, n, "BIN:0123456789|");
  /* one byte over: fails when the header is complete, before any payload */
  n = sframe(buf, 0x82, "0123456789X", 11);
  CHECK_EQ(check_vector_cfg(&lim, buf, n, "ERROR:1009"), 2);
  /* cumulative over fragments: fails at the second header */
  n = sframe(buf, 0x02, "012345", 6);
  n += sframe(buf + n, 0x80, "6789X", 5);
  CHECK_EQ(check_vector_cfg(&lim, buf, n, "ERROR:1009"), 10);
  /* 16- and 64-bit lengths fail on their last length byte */
  CHECK_EQ(check_vector_cfg(&lim, (const uint8_t *)"\x82\x7E\x01\x00", 4, "ERROR:1009"), 4);
  CHECK_EQ(check_vector_cfg(&lim, (const uint8_t *)"\x82\x7F\x00\x00\x00\x01\x00\x00\x00\x00",
                            10, "ERROR:1009"),
           10);
  /* control frames do not count, and the limit is per message */
  n = sframe(buf, 0x02, "012345", 6);
  n += sframe(buf + n, 0x89, "ping-payload", 12);
  n += sframe(buf + n, 0x80, "6789", 4);
  n += sframe(buf + n, 0x82, "abcdefghij", 10);
  check_vector_cfg(&lim, buf, n, "PING:ping-payload|BIN:0123456789|BIN:abcdefghij|");
  ws_parser p;
  ws_parser_init(&p, &lim);
  ws_event ev;
  size_t used;
  ws_parse(&p, (const uint8_t *)"\x82\x0B", 2, &used, &ev);
  CHECK(strstr(ev.reason, "read limit of 10 bytes") != NULL);
}

static void test_utf8_rules(void) {
  VEC("\x81\x02\xc3\xa9", "TEXT:\\xc3\\xa9|");
  /* a code point split across frames, and across frames with a ping in between */
  VEC("\x01\x01\xc3\x80\x01\xa9", "TEXT:\\xc3\\xa9|");
  VEC("\x01\x02\xf0\x9f\x89\x00\x00\x00\x80\x02\x98\x80", "PING:|TEXT:\\xf0\\x9f\\x98\\x80|");
  /* fails on the bad byte, in the middle of the frame */
  CHECK_EQ(VEC("\x81\x06" "ab\xff" "cde", "ERROR:1007"), 5);
  /* Autobahn 6.3.1 / 6.4.1: fail before the rest of the message arrives */
  CHECK_EQ(VEC("\x81\x14\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited",
               "ERROR:1007"),
           2 + 13);
  CHECK_EQ(VEC("\x01\x0B\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\x00\x04\xf4\x90\x80\x80"
               "\x80\x06" "edited",
               "ERROR:1007"),
           13 + 4);
  /* a message ending inside a code point */
  CHECK_EQ(VEC("\x81\x01\xc3", "ERROR:1007"), 3);
  CHECK_EQ(VEC("\x01\x01\xc3\x80\x00", "ERROR:1007"), 5);
  /* overlong, surrogate, above U+10FFFF */
  CHECK_EQ(VEC("\x81\x02\xc0\xaf", "ERROR:1007"), 3);
  CHECK_EQ(VEC("\x81\x03\xed\xa0\x80", "ERROR:1007"), 4);
  CHECK_EQ(VEC("\x81\x04\xf4\x90\x80\x80", "ERROR:1007"), 4);
  /* binary is not checked */
  VEC("\x82\x02\xff\xc3", "BIN:\\xff\\xc3|");
  /* the validator restarts with each message */
  CHECK_EQ(VEC("\x81\x01" "a\x81\x01\x80", "TEXT:a|ERROR:1007"), 6);
}

static void test_close_frames(void) {
  VEC("\x88\x00", "CLOSE:1005:|");
  CHECK_EQ(VEC("\x88\x01\x03", "ERROR:1002"), 3);
  VEC("\x88\x05\x03\xe8" "bye", "CLOSE:1000:bye|");
  VEC("\x88\x04\x03\xe9\xc3\xa9", "CLOSE:1001:\\xc3\\xa9|");
  CHECK_EQ(VEC("\x88\x04\x03\xe8\xc3\x28", "ERROR:1007"), 6);
  /* nothing may follow a close frame */
  CHECK_EQ(VEC("\x88\x02\x03\xe8\x81", "CLOSE:1000:|ERROR:1002"), 5);
  static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                              1012, 1013, 1014, 3000, 3999, 4000, 4999};
  static const int invalid[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    uint8_t f[4] = {0x88, 0x02, (uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
    char expect[32];
    snprintf(expect, sizeof expect, "CLOSE:%d:|", valid[i]);
    check_vector(f, 4, expect);
  }
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    uint8_t f[4] = {0x88, 0x02, (uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
    CHECK_EQ(check_vector(f, 4, "ERROR:1002"), 4);
  }
  /* a 123-byte reason */
  uint8_t buf[140], payload[125];
  payload[0] = 0x0F, payload[1] = 0xA0; /* 4000 */
  memset(payload + 2, 'r', 123);
  size_t n = sframe(buf, 0x88, payload, 125);
  char expect[64];
  snprintf(expect, sizeof expect, "CLOSE:4000:<123 bytes %016llx>|",
           (unsigned long long)fnv(payload + 2, 123));
  check_vector(buf, n, expect);
}

static void test_close_codes(void) {
  for (int c = -1; c <= 70000; c++) {
    bool ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    CHECK_EQ(ws_close_code_sendable(c), ok);
    CHECK_EQ(ws_close_code_receivable(c), ok);
  }
  uint8_t out[WS_MAX_CONTROL_PAYLOAD];
  CHECK_EQ(ws_close_payload(out, 1000, "done", 4), 6);
  CHECK(memcmp(out, "\x03\xe8" "done", 6) == 0);
  CHECK_EQ(ws_close_payload(out, 4999, NULL, 0), 2);
  CHECK(memcmp(out, "\x13\x87", 2) == 0);
  CHECK_EQ(ws_close_payload(out, 0, NULL, 0), 0);
  CHECK(ws_close_check(0, NULL, 0) == NULL);
  CHECK_STR(ws_close_check(0, "x", 1), "a close reason needs a close code");
  CHECK_STR(ws_close_check(1005, NULL, 0), "close code must be 1000-1003, 1007-1014 or 3000-4999");
  CHECK_EQ(ws_close_payload(out, 1006, NULL, 0), -1);
  char reason[124];
  memset(reason, 'a', sizeof reason);
  CHECK(ws_close_check(1000, reason, 123) == NULL);
  CHECK_EQ(ws_close_payload(out, 1000, reason, 123), 125);
  CHECK_STR(ws_close_check(1000, reason, 124), "close reason is longer than 123 bytes");
  CHECK_EQ(ws_close_payload(out, 1000, reason, 124), -1);
  CHECK_STR(ws_close_check(1000, "\xc3", 1), "close reason is not valid UTF-8");
  CHECK(ws_close_check(1000, "\xc3\xa9", 2) == NULL);
}

static void test_split_control(void) {
  /* a 125-byte ping fed byte by byte arrives as one event holding all of it */
  uint8_t buf[130], payload[125];
  for (int i = 0; i < 125; i++) payload[i] = (uint8_t)i;
  size_t n = sframe(buf, 0x89, payload, 125);
  ws_parser p;
  ws_parser_init(&p, &plain);
  int events = 0;
  for (size_t i = 0; i < n; i++) {
    ws_event ev;
    size_t used;
    int rc = ws_parse(&p, buf + i, 1, &used, &ev);
    CHECK_EQ(used, 1);
    if (i + 1 < n) {
      CHECK_EQ(rc, WS_NEED_MORE);
    } else {
      CHECK_EQ(rc, WS_EVENT);
      CHECK_EQ(ev.type, WS_EV_PING);
      CHECK_EQ(ev.len, 125);
      CHECK(memcmp(ev.data, payload, 125) == 0);
      events++;
    }
  }
  CHECK_EQ(events, 1);
  /* empty feeds are harmless */
  ws_event ev;
  size_t used = 7;
  CHECK_EQ(ws_parse(&p, NULL, 0, &used, &ev), WS_NEED_MORE);
  CHECK_EQ(used, 0);
}

static void test_data_chunks_zero_copy(void) {
  uint8_t buf[64];
  size_t n = sframe(buf, 0x82, "abcdefgh", 8);
  ws_parser p;
  ws_parser_init(&p, &plain);
  ws_event ev;
  size_t used;
  CHECK_EQ(ws_parse(&p, buf, 5, &used, &ev), WS_EVENT);
  CHECK_EQ(used, 5);
  CHECK(ev.data == buf + 2);
  CHECK_EQ(ev.len, 3);
  CHECK_EQ(ev.flags, WS_DATA_FIRST);
  CHECK_EQ(ws_parse(&p, buf + 5, n - 5, &used, &ev), WS_EVENT);
  CHECK(ev.data == buf + 5);
  CHECK_EQ(ev.len, 5);
  CHECK_EQ(ev.flags, WS_DATA_FINAL);
}

static void test_error_reasons(void) {
  struct {
    const char *in;
    size_t n;
    const char *reason;
  } cases[] = {
      {"\xA1", 1, "reserved bits RSV2/RSV3 set"},
      {"\x83", 1, "reserved opcode 0x3"},
      {"\xC1", 1, "RSV1 set without a negotiated extension"},
      {"\x09", 1, "fragmented control frame"},
      {"\x89\xFE", 2, "masked frame from server"},
      {"\x89\x7E", 2, "control frame payload longer than 125 bytes"},
      {"\x80", 1, "continuation frame without a message in progress"},
      {"\x01\x00\x01", 3, "new data frame while a fragmented message is in progress"},
      {"\x82\x7F\x80", 3, "64-bit payload length with the top bit set"},
      {"\x81\x01\xFF", 3, "invalid UTF-8 in text message"},
      {"\x81\x01\xC3", 3, "text message ends inside a UTF-8 sequence"},
      {"\x88\x01\x03", 3, "close frame with a 1-byte payload"},
      {"\x88\x02\x03\xED", 4, "invalid close code 1005"},
      {"\x88\x03\x03\xE8\xFF", 5, "close reason is not valid UTF-8"},
      {"\x88\x00\x00", 3, "data after the close frame"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ws_parser p;
    ws_parser_init(&p, &plain);
    ws_event ev;
    size_t used, off = 0;
    int rc;
    do {
      rc = ws_parse(&p, (const uint8_t *)cases[i].in + off, cases[i].n - off, &used, &ev);
      off += used;
    } while (rc == WS_EVENT);
    CHECK_EQ(rc, WS_ERROR);
    CHECK_STR(ev.reason, cases[i].reason);
  }
}

/* ---- masking --------------------------------------------------------------------------- */

static void test_mask(void) {
  uint8_t data[300], copy[300], ref[300];
  static const uint8_t mask[4] = {0xA5, 0x3C, 0x0F, 0xF0};
  srand(7);
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)rand();
  for (size_t align = 0; align < 8; align++)
    for (size_t len = 0; len + align <= 80; len++)
      for (size_t off = 0; off < 8; off++) {
        memcpy(copy, data, sizeof copy);
        for (size_t i = 0; i < len; i++) ref[i] = data[align + i] ^ mask[(off + i) & 3];
        ws_mask(copy + align, len, mask, off);
        CHECK(memcmp(copy + align, ref, len) == 0);
        CHECK(memcmp(copy, data, align) == 0); /* nothing outside the range is touched */
        CHECK(memcmp(copy + align + len, data + align + len, sizeof copy - align - len) == 0);
        ws_mask(copy + align, len, mask, off);
        CHECK(memcmp(copy, data, sizeof copy) == 0);
      }
  /* masking in pieces equals masking at once */
  for (size_t cut = 0; cut <= 300; cut += 7) {
    memcpy(copy, data, sizeof copy);
    memcpy(ref, data, sizeof ref);
    ws_mask(ref, 300, mask, 0);
    ws_mask(copy, cut, mask, 0);
    ws_mask(copy + cut, 300 - cut, mask, cut);
    CHECK(memcmp(copy, ref, 300) == 0);
  }
}

static void test_chacha20_vector(void) {
  /* RFC 8439 §2.3.2 */
  uint32_t key[8];
  for (int i = 0; i < 8; i++)
    key[i] = (uint32_t)(4 * i) | (uint32_t)(4 * i + 1) << 8 | (uint32_t)(4 * i + 2) << 16 |
             (uint32_t)(4 * i + 3) << 24;
  const uint32_t nonce[3] = {0x09000000, 0x4a000000, 0x00000000};
  static const uint8_t expect[64] = {
      0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3,
      0x20, 0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22,
      0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa,
      0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1,
      0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e};
  uint8_t out[64];
  ws_chacha20_block(out, key, 1, nonce);
  CHECK(memcmp(out, expect, 64) == 0);
}

static void test_masker(void) {
  ws_masker a, b;
  CHECK_EQ(ws_masker_init(&a), 0);
  CHECK_EQ(ws_masker_init(&b), 0);
  /* 10000 keys (many refills): no two generators agree, keys are not constant, and the
   * bytes look balanced */
  long same = 0, bits = 0;
  uint8_t prev[4] = {0};
  long repeats = 0;
  for (int i = 0; i < 10000; i++) {
    uint8_t ka[4], kb[4];
    ws_masker_next(&a, ka);
    ws_masker_next(&b, kb);
    same += memcmp(ka, kb, 4) == 0;
    repeats += memcmp(ka, prev, 4) == 0;
    memcpy(prev, ka, 4);
    for (int k = 0; k < 4; k++) bits += __builtin_popcount(ka[k]);
  }
  CHECK(same < 3);
  CHECK(repeats < 3);
  CHECK(bits > 160000 - 2000 && bits < 160000 + 2000);
  ws_masker_wipe(&a);
  uint8_t zero[sizeof a];
  memset(zero, 0, sizeof zero);
  CHECK(memcmp(&a, zero, sizeof a) == 0);
  uint8_t r1[16], r2[16];
  CHECK_EQ(ws_getrandom(r1, 16), 0);
  CHECK_EQ(ws_getrandom(r2, 16), 0);
  CHECK(memcmp(r1, r2, 16) != 0);
}

TEST_MAIN(test_rfc_examples, test_encoder_rfc_examples, test_rsv_bits, test_reserved_opcodes,
          test_control_frame_rules, test_fragmentation_rules, test_empty_frames, test_lengths,
          test_encoder_rejects, test_read_limit, test_utf8_rules, test_close_frames,
          test_close_codes, test_split_control, test_data_chunks_zero_copy, test_error_reasons,
          test_mask, test_chacha20_vector, test_masker)
