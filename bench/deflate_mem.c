/* bench/deflate_mem.c — memory and ratio measurements of permessage-deflate (net/deflate.c),
 * the numbers quoted in docs/deflate.md. Not part of the CMake build; from the project root:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -I. bench/deflate_mem.c net/deflate.c core/buf.c -lz \
 *      -lpthread -o /tmp/deflate_mem && /tmp/deflate_mem
 *
 * 1. Bytes per connection, counted by the module's allocator (pmd_live_bytes): N connections
 *    that each sent and received compressed messages, idle between messages; and one
 *    connection in the middle of receiving a message.
 * 2. For comparison, the classic design (one deflate and one inflate z_stream per connection,
 *    as Node ws and Python websockets do), counted with the same kind of allocator.
 * 3. Compression ratio of a message corpus per window bits and memLevel, context takeover
 *    and not; and the time per message of window priming against a dedicated stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "net/deflate.h"

/* ---- a corpus of JSON-ish messages: trades (60%), chat lines (35%), order books (5%) ---- */

#define NMSG 3000
#define REPS 7 /* timings: best of REPS runs */
static char *msgs[NMSG];
static size_t lens[NMSG];
static size_t corpus_bytes;

static unsigned long long rs = 12345;
static unsigned rnd(void) {
  rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)(rs >> 33);
}

static const char *words[] = {"the",     "quick",   "order",   "price",   "update",
                              "status",  "account", "user",    "message", "channel",
                              "deliver", "pending", "error",   "value",   "server",
                              "client",  "session", "token",   "market",  "window"};
static const char *syms[] = {"BTC-USD", "ETH-USD", "SOL-USD", "ADA-EUR", "DOGE-USD"};

static void make_corpus(void) {
  for (int i = 0; i < NMSG; i++) {
    char *o = malloc(20000);
    int n = 0, r = (int)(rnd() % 100);
    if (r < 60) {
      n = sprintf(o, "{\"type\":\"trade\",\"symbol\":\"%s\",\"price\":\"%u.%02u\",\"size\":\"0.%05u\","
                     "\"side\":\"%s\",\"time\":\"2024-03-0%uT12:%02u:%02u.%06uZ\",\"trade_id\":%u}",
                  syms[rnd() % 5], 20000 + rnd() % 30000, rnd() % 100, rnd() % 100000,
                  rnd() % 2 ? "buy" : "sell", 1 + rnd() % 9, rnd() % 60, rnd() % 60,
                  rnd() % 1000000, 100000000 + rnd() % 1000000);
    } else if (r < 95) {
      n = sprintf(o, "{\"type\":\"chat\",\"room\":\"general\",\"from\":\"user%u\",\"text\":\"",
                  rnd() % 50);
      int w = 5 + (int)(rnd() % 30);
      for (int k = 0; k < w; k++) n += sprintf(o + n, "%s ", words[rnd() % 20]);
      n += sprintf(o + n, "\",\"ts\":%u}", 1700000000 + rnd() % 1000000);
    } else {
      n = sprintf(o, "{\"type\":\"book\",\"symbol\":\"%s\",\"bids\":[", syms[rnd() % 5]);
      int k = 20 + (int)(rnd() % 200);
      for (int j = 0; j < k; j++)
        n += sprintf(o + n, "%s[\"%u.%02u\",\"%u.%04u\"]", j ? "," : "", 20000 + rnd() % 300,
                     rnd() % 100, rnd() % 20, rnd() % 10000);
      n += sprintf(o + n, "]}");
    }
    msgs[i] = o;
    lens[i] = (size_t)n;
    corpus_bytes += (size_t)n;
  }
}

/* ---- 1. our bytes per connection ------------------------------------------------------- */

static int discard(void *ud, const uint8_t *p, size_t n) {
  *(size_t *)ud += n;
  return 0;
}

/* A server message for a fresh context: raw deflate, sync flush, tail stripped. */
static uint8_t *server_payload(int bits, const char *m, size_t n, size_t *plen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 6, Z_DEFLATED, -(bits < 9 ? 9 : bits), 8, Z_DEFAULT_STRATEGY);
  size_t cap = deflateBound(&z, n) + 64;
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)m;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  deflate(&z, Z_SYNC_FLUSH);
  *plen = cap - z.avail_out - 4;
  deflateEnd(&z);
  return out;
}

static void per_connection(const char *label, int mode, const char *answer, int nconn) {
  pmd_params p;
  char err[PMD_ERR_MAX];
  ws_str v = {answer, strlen(answer)};
  if (pmd_negotiate(mode, &v, 1, &p, err, sizeof err) || !p.enabled) {
    fprintf(stderr, "%s: %s\n", label, err);
    exit(1);
  }
  pmd_thread_release();
  size_t base = pmd_live_bytes();
  pmd_conn **c = malloc(sizeof *c * (size_t)nconn);
  size_t plen;
  uint8_t *pl = server_payload(p.server_max_window_bits, msgs[7], lens[7], &plen);
  wbuf out = WBUF_INIT;
  size_t sink = 0, fresh = 0;
  for (int i = 0; i < nconn; i++) {
    c[i] = pmd_conn_new(&p, 0, 0);
    if (i == 0) fresh = pmd_conn_bytes(c[0]);
    for (int k = 0; k < 5; k++) { /* a few messages each way */
      wbuf_reset(&out);
      pmd_compress(c[i], msgs[(i + k) % NMSG], lens[(i + k) % NMSG], &out);
    }
    pmd_decompress(c[i], pl, plen, true, discard, &sink);
  }
  size_t pool = pmd_pool_bytes();
  size_t total = pmd_live_bytes() - base - pool;
  /* one connection in the middle of a message holds a lent inflate stream */
  pmd_decompress(c[0], pl, plen / 2, false, discard, &sink);
  size_t mid = pmd_conn_bytes(c[0]);
  pmd_decompress(c[0], pl + plen / 2, plen - plen / 2, true, discard, &sink);
  printf("| %-44s | %2d/%2d | %5zu | %6zu | %6zu | %7zu |\n", label, p.client_max_window_bits,
         p.server_max_window_bits, fresh, total / (size_t)nconn, mid, pool);
  for (int i = 0; i < nconn; i++) pmd_conn_free(c[i]);
  free(c);
  free(pl);
  wbuf_free(&out);
  pmd_thread_release();
}

/* ---- 2. the classic design: dedicated streams, same counting ---------------------------- */

static size_t classic_bytes;
static voidpf c_alloc(voidpf o, uInt items, uInt size) {
  size_t n = (size_t)items * size;
  unsigned char *p = malloc(n + 16);
  memcpy(p, &n, sizeof n);
  classic_bytes += n + 16;
  return p + 16;
}
static void c_free(voidpf o, voidpf q) {
  unsigned char *p = (unsigned char *)q - 16;
  size_t n;
  memcpy(&n, p, sizeof n);
  classic_bytes -= n + 16;
  free(p);
}

static void classic(const char *label, int dbits, int mem_level, int ibits) {
  classic_bytes = 0;
  z_stream d, in;
  memset(&d, 0, sizeof d);
  memset(&in, 0, sizeof in);
  d.zalloc = in.zalloc = c_alloc;
  d.zfree = in.zfree = c_free;
  deflateInit2(&d, 6, Z_DEFLATED, -dbits, mem_level, Z_DEFAULT_STRATEGY);
  inflateInit2(&in, -ibits);
  uint8_t buf[65536];
  d.next_in = (Bytef *)msgs[7];
  d.avail_in = (uInt)lens[7];
  d.next_out = buf;
  d.avail_out = sizeof buf;
  deflate(&d, Z_SYNC_FLUSH);
  size_t n = sizeof buf - d.avail_out;
  uint8_t out[65536];
  in.next_in = buf;
  in.avail_in = (uInt)n;
  in.next_out = out;
  in.avail_out = sizeof out;
  inflate(&in, Z_SYNC_FLUSH); /* allocates the inflate window */
  printf("| %-44s | %2d/%2d | %6zu |\n", label, dbits, ibits, classic_bytes + 2 * sizeof(z_stream));
  deflateEnd(&d);
  inflateEnd(&in);
}

/* ---- 3. ratio and time ----------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Compressed bytes of the corpus with a dedicated continuous stream (= what window priming
 * reproduces: checked below) or reset per message. */
static size_t corpus_ratio(int bits, int mem_level, bool takeover) {
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 6, Z_DEFLATED, -(bits < 9 ? 9 : bits), mem_level, Z_DEFAULT_STRATEGY);
  static uint8_t out[200000];
  size_t total = 0;
  for (int i = 0; i < NMSG; i++) {
    if (!takeover) deflateReset(&z);
    z.next_in = (Bytef *)msgs[i];
    z.avail_in = (uInt)lens[i];
    z.next_out = out;
    z.avail_out = sizeof out;
    deflate(&z, Z_SYNC_FLUSH);
    total += sizeof out - z.avail_out - 4;
  }
  deflateEnd(&z);
  return total;
}

static void ratios(void) {
  printf("\nCompression ratio (compressed / original) of the corpus, level 6:\n\n");
  printf("| window bits | takeover mL4 | takeover mL5 | takeover mL8 | no context mL5 | no context mL8 |\n");
  printf("|---|---|---|---|---|---|\n");
  for (int b = 9; b <= 15; b++)
    printf("| %d | %.4f | %.4f | %.4f | %.4f | %.4f |\n", b,
           (double)corpus_ratio(b, 4, true) / (double)corpus_bytes,
           (double)corpus_ratio(b, 5, true) / (double)corpus_bytes,
           (double)corpus_ratio(b, 8, true) / (double)corpus_bytes,
           (double)corpus_ratio(b, 5, false) / (double)corpus_bytes,
           (double)corpus_ratio(b, 8, false) / (double)corpus_bytes);
}

/* The module itself over the corpus, outgoing and incoming, against a dedicated stream. */
static void module_run(const char *label, int mode, const char *answer) {
  pmd_params p;
  ws_str v = {answer, strlen(answer)};
  pmd_negotiate(mode, &v, 1, &p, NULL, 0);
  wbuf out = WBUF_INIT;
  size_t comp = 0, sink = 0;
  double t_out = 1e9;
  for (int rep = 0; rep < REPS; rep++) { /* best of REPS: the machine is shared */
    pmd_conn *c = pmd_conn_new(&p, 0, 0);
    comp = 0;
    double t0 = now();
    for (int i = 0; i < NMSG; i++) {
      size_t before = out.len;
      if (pmd_compress(c, msgs[i], lens[i], &out) == PMD_COMPRESSED)
        comp += out.len - before;
      else
        comp += lens[i];
      wbuf_reset(&out);
    }
    double t = (now() - t0) / NMSG * 1e6;
    if (t < t_out) t_out = t;
    pmd_conn_free(c);
  }
  /* incoming: a server stream with the agreed window and context */
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 6, Z_DEFLATED, -(p.server_max_window_bits < 9 ? 9 : p.server_max_window_bits),
               8, Z_DEFAULT_STRATEGY);
  static uint8_t buf[200000];
  uint8_t **pl = malloc(sizeof *pl * NMSG);
  size_t *pn = malloc(sizeof *pn * NMSG);
  for (int i = 0; i < NMSG; i++) {
    if (p.server_no_context_takeover) deflateReset(&z);
    z.next_in = (Bytef *)msgs[i];
    z.avail_in = (uInt)lens[i];
    z.next_out = buf;
    z.avail_out = sizeof buf;
    deflate(&z, Z_SYNC_FLUSH);
    pn[i] = sizeof buf - z.avail_out - 4;
    pl[i] = malloc(pn[i]);
    memcpy(pl[i], buf, pn[i]);
  }
  deflateEnd(&z);
  int bad = 0;
  double t_in = 1e9;
  for (int rep = 0; rep < REPS; rep++) {
    pmd_conn *c = pmd_conn_new(&p, 0, 0);
    sink = 0;
    double t0 = now();
    for (int i = 0; i < NMSG; i++)
      bad += pmd_decompress(c, pl[i], pn[i], true, discard, &sink) != 0;
    double t = (now() - t0) / NMSG * 1e6;
    if (t < t_in) t_in = t;
    pmd_conn_free(c);
  }
  printf("| %-38s | %.4f | %5.2f | %5.2f | %s |\n", label, (double)comp / (double)corpus_bytes,
         t_out, t_in, bad || sink != corpus_bytes ? "MISMATCH" : "ok");
  for (int i = 0; i < NMSG; i++) free(pl[i]);
  free(pl);
  free(pn);
  wbuf_free(&out);
}

static void dedicated_run(const char *label, int bits, int mem_level, bool takeover) {
  static uint8_t buf[200000], out[200000];
  double best_out = 1e9, best_in = 1e9;
  size_t comp = 0;
  for (int rep = 0; rep < REPS; rep++) {
    z_stream d, in;
    memset(&d, 0, sizeof d);
    memset(&in, 0, sizeof in);
    deflateInit2(&d, 6, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY);
    inflateInit2(&in, -bits);
    double t_out = 0, t_in = 0;
    comp = 0;
    for (int i = 0; i < NMSG; i++) {
      double t0 = now();
      if (!takeover) deflateReset(&d);
      d.next_in = (Bytef *)msgs[i];
      d.avail_in = (uInt)lens[i];
      d.next_out = buf;
      d.avail_out = sizeof buf;
      deflate(&d, Z_SYNC_FLUSH);
      size_t n = sizeof buf - d.avail_out;
      t_out += now() - t0;
      comp += n - 4;
      t0 = now();
      if (!takeover) inflateReset(&in);
      in.next_in = buf;
      in.avail_in = (uInt)n;
      in.next_out = out;
      in.avail_out = sizeof out;
      inflate(&in, Z_SYNC_FLUSH);
      t_in += now() - t0;
    }
    deflateEnd(&d);
    inflateEnd(&in);
    if (t_out < best_out) best_out = t_out;
    if (t_in < best_in) best_in = t_in;
  }
  printf("| %-38s | %.4f | %5.2f | %5.2f | reference |\n", label,
         (double)comp / (double)corpus_bytes, best_out / NMSG * 1e6, best_in / NMSG * 1e6);
}

int main(void) {
  make_corpus();
  printf("zlib %s; corpus: %d messages, %zu bytes (mean %zu)\n\n", zlibVersion(), NMSG,
         corpus_bytes, corpus_bytes / NMSG);
  printf("Bytes per connection (this module; counting allocator, 16-byte header per block):\n\n");
  printf("| mode / server answer                         | c/s bits | fresh | idle/conn | mid-message | pool (thread) |\n");
  printf("|---|---|---|---|---|---|\n");
  int n = 10000;
  per_connection("takeover, answer 12/12", PMD_CONTEXT_TAKEOVER,
                 "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12", n);
  per_connection("takeover, fallback accepted (server 15)", PMD_CONTEXT_TAKEOVER,
                 "permessage-deflate; client_max_window_bits=12", n);
  per_connection("takeover, server no-context", PMD_CONTEXT_TAKEOVER,
                 "permessage-deflate; server_no_context_takeover; client_max_window_bits=12", n);
  per_connection("no context", PMD_NO_CONTEXT,
                 "permessage-deflate; server_no_context_takeover; client_no_context_takeover", n);

  printf("\nThe classic design (a deflate and an inflate z_stream per connection), same count:\n\n");
  printf("| configuration                                | d/i bits | bytes |\n");
  printf("|---|---|---|\n");
  classic("zlib defaults: 15 bits, memLevel 8", 15, 8, 15);
  classic("12 bits, memLevel 5 (Python websockets')", 12, 5, 12);
  classic("dedicated, 12 bits, memLevel 4", 12, 4, 12);
  classic("dedicated, 9 bits, memLevel 1", 9, 1, 9);

  ratios();

  printf("\nThe module over the corpus vs a dedicated stream (µs per message, best of %d):\n\n",
         REPS);
  printf("| configuration                          | ratio  | out µs | in µs | check |\n");
  printf("|---|---|---|---|---|\n");
  module_run("module takeover 12/12 (mL5)", PMD_CONTEXT_TAKEOVER,
             "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
  dedicated_run("dedicated takeover 12 bits mL5", 12, 5, true);
  module_run("module takeover 12/15 (fallback)", PMD_CONTEXT_TAKEOVER,
             "permessage-deflate; client_max_window_bits=12");
  dedicated_run("dedicated takeover 15 bits mL8", 15, 8, true);
  module_run("module no context 15/15 (mL5)", PMD_NO_CONTEXT,
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  dedicated_run("dedicated no context 15 bits mL8", 15, 8, false);
  pmd_thread_release();
  for (int i = 0; i < NMSG; i++) free(msgs[i]);
  return 0;
}
