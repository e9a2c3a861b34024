/* tests/fuzz/fuzz_inflate.c — the permessage-deflate inflater on arbitrary server payloads,
 * and pmd_compress → pmd_decompress round trips of arbitrary messages.
 *
 * Input: byte 0 = config (bits 0-2 agreed parameters, bits 3-5 read_limit choice, bit 6 a
 * compression threshold of 64 for the sender), byte 1 = split seed, then messages, each a
 * 2-byte little-endian length and that many bytes (the last one takes what is left).
 *
 * Every message is given as compressed payload to three connections fed at once, in random
 * pieces (with empty pieces) and in 0..3-byte pieces: the result code must be the same (but
 * see the window note below), the output identical on success, never more than read_limit bytes, sink calls ≤ PMD_OUT_CHUNK,
 * errors sticky and only 1007/1009. The same bytes are then sent as a message through
 * pmd_compress and received by a mirrored connection, which must get them back exactly,
 * context takeover included. */
#include <stdlib.h>
#include <string.h>
#include "net/deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sinkstate {
  uint64_t hash;
  size_t total;
  uint8_t *copy; /* when non-NULL, the output is collected here (capacity cap) */
  size_t cap;
} sinkstate;

static int sink(void *ud, const uint8_t *p, size_t n) {
  sinkstate *s = ud;
  if (n == 0 || n > PMD_OUT_CHUNK) abort();
  for (size_t i = 0; i < n; i++) s->hash = (s->hash ^ p[i]) * 1099511628211ULL;
  if (s->copy) {
    if (s->total + n > s->cap) abort();
    memcpy(s->copy + s->total, p, n);
  }
  s->total += n;
  return 0;
}

static const char *answers[8] = {
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
    "permessage-deflate; client_max_window_bits=8; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
    "permessage-deflate; server_no_context_takeover; client_max_window_bits=15",
};
static const int modes[8] = {1, 1, 1, 1, 1, 2, 2, 2};
static const uint64_t limits[8] = {0, 1, 100, 4096, 16384, 16385, 100000, 1u << 20};

static uint32_t rng;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* Feeds one message; max_piece 0 = at once, else pieces of 0..max_piece (random) bytes. */
static int feed(pmd_conn *c, const uint8_t *p, size_t n, size_t max_piece, sinkstate *s) {
  size_t off = 0;
  while (off < n) {
    size_t k = max_piece ? next_rand() % (max_piece + 1) : n;
    if (k > n - off) k = n - off;
    int rc = pmd_decompress(c, p + off, k, false, sink, s);
    if (rc) return rc;
    off += k;
  }
  return pmd_decompress(c, NULL, 0, true, sink, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int cfg = data[0] & 7;
  uint64_t limit = limits[(data[0] >> 3) & 7];
  size_t threshold = data[0] & 0x40 ? 64 : 0;
  rng = 0x9e3779b9u ^ data[1];
  data += 2;
  size -= 2;

  pmd_params p;
  ws_str v = {answers[cfg], strlen(answers[cfg])};
  if (pmd_negotiate(modes[cfg], &v, 1, &p, NULL, 0) != 0 || !p.enabled) abort();
  /* the mirror: a connection that receives what the first one sends */
  pmd_params m = p;
  m.server_no_context_takeover = p.client_no_context_takeover;
  m.server_max_window_bits = p.client_max_window_bits;

  pmd_conn *c[3], *sender = pmd_conn_new(&p, threshold, 0), *mirror = pmd_conn_new(&m, 0, 0);
  for (int k = 0; k < 3; k++) c[k] = pmd_conn_new(&p, 0, limit);
  int failed[3] = {0, 0, 0};
  bool diverged = false;
  wbuf out = WBUF_INIT;
  size_t piece_max[3] = {0, 1 + next_rand() % 300, 3};

  while (size > 0) {
    size_t n = size;
    if (size >= 2) {
      n = (size_t)data[0] | (size_t)data[1] << 8;
      data += 2;
      size -= 2;
      if (n > size) n = size;
    }
    const uint8_t *msg = data;
    data += n;
    size -= n;

    /* as compressed payload from the server */
    int rc[3];
    sinkstate st[3];
    for (int k = 0; k < 3; k++) {
      memset(&st[k], 0, sizeof st[k]);
      st[k].hash = 1469598103934665603ULL;
      size_t pm = k == 2 && n > 4096 ? 0 : piece_max[k]; /* keep byte-by-byte runs short */
      rc[k] = failed[k] ? failed[k] : feed(c[k], msg, n, pm, &st[k]);
      if (rc[k] != 0 && rc[k] != 1007 && rc[k] != 1009) abort();
      if (limit && st[k].total > limit) abort();
      if (pmd_in_message(c[k])) abort();
      if (rc[k]) {
        if (!pmd_error(c[k])[0]) abort();
        if (pmd_decompress(c[k], msg, n, true, sink, &st[k]) != rc[k]) abort(); /* sticky */
        failed[k] = rc[k];
      }
    }
    /* same history so far → same outcome, whatever the pieces. One exception: zlib checks a
     * distance against its window plus the output of the current call, so a reference
     * beyond a window smaller than 32 KiB (a server breaking its own server_max_window_bits)
     * may pass when fed at once and fail in pieces; from then on the histories differ. */
    if (!diverged && (rc[0] != rc[1] || rc[0] != rc[2])) {
      for (int k = 0; k < 3; k++)
        if (rc[k] && (p.server_max_window_bits == 15 || !strstr(pmd_error(c[k]), "too far back")))
          abort();
      diverged = true;
    }
    if (!diverged && rc[0] == 0 &&
        (st[0].hash != st[1].hash || st[0].total != st[1].total || st[0].hash != st[2].hash ||
         st[0].total != st[2].total))
      abort();

    /* as a message we send */
    wbuf_reset(&out);
    int r = pmd_compress(sender, msg, n, &out);
    if (r == PMD_COMPRESSED) {
      if (out.len >= n) abort();
      sinkstate back = {1469598103934665603ULL, 0, malloc(n ? n : 1), n};
      if (feed(mirror, (const uint8_t *)out.data, out.len, next_rand() % 64, &back) != 0)
        abort();
      if (back.total != n || memcmp(back.copy, msg, n) != 0) abort();
      free(back.copy);
    } else if (r != PMD_PLAIN || out.len != 0) {
      abort();
    }
  }
  for (int k = 0; k < 3; k++) pmd_conn_free(c[k]);
  pmd_conn_free(sender);
  pmd_conn_free(mirror);
  wbuf_free(&out);
  return 0;
}
