/* tests/unit/test_deflate.c — permessage-deflate: the offers, every kind of server answer, and
 * the codec against a reference server written here with plain zlib calls (raw deflate,
 * sync flush, 00 00 ff ff stripped/appended, context kept or reset per the agreed
 * parameters), in both modes, with fragmented input, a decompression bomb, corrupt data, the
 * RFC 7692 §7.2.3 examples, shared pooled streams across interleaved connections and threads,
 * and allocation failures. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "net/deflate.h"
#include "net/utf8.h"
#include "tests/unit/t.h"

/* ---- helpers --------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static int neg(int mode, const char *answer, pmd_params *p, char *err, size_t errsz) {
  ws_str v = {answer, strlen(answer)};
  return pmd_negotiate(mode, &v, 1, p, err, errsz);
}

/* Negotiation that must succeed. */
static pmd_params agree(int mode, const char *answer) {
  pmd_params p;
  char err[PMD_ERR_MAX] = "";
  int rc = neg(mode, answer, &p, err, sizeof err);
  if (rc) fprintf(stderr, "unexpected negotiation failure for \"%s\": %s\n", answer, err);
  CHECK_EQ(rc, 0);
  return p;
}

/* Negotiation that must fail with a message containing `needle`. */
static void refuse(int mode, const char *answer, const char *needle) {
  pmd_params p;
  char err[PMD_ERR_MAX] = "";
  CHECK_EQ(neg(mode, answer, &p, err, sizeof err), -1);
  CHECK(!p.enabled);
  if (!strstr(err, needle)) {
    fprintf(stderr, "answer \"%s\": error \"%s\" lacks \"%s\"\n", answer, err, needle);
    CHECK(0);
  }
}

static const char *words[] = {"the", "quick", "order", "price", "update", "status", "account",
                              "user", "message", "channel", "delivered", "pending", "error",
                              "héllo", "värde", "日本語", "server", "client", "🙂", "window"};

/* kinds: 0 random bytes (binary), 1 repetitive text, 2 JSON-like text, 3 zeros (binary),
 * 4 random multi-byte UTF-8 text */
static bool kind_is_text(int kind) { return kind == 1 || kind == 2 || kind == 4; }

static void gen(uint8_t *b, size_t n, int kind) {
  size_t i = 0;
  switch (kind) {
  case 0:
    for (; i < n; i++) b[i] = (uint8_t)rnd();
    break;
  case 3: memset(b, 0, n); return;
  case 1:
  case 2:
    while (i < n) {
      char tmp[96];
      int k = kind == 1 ? snprintf(tmp, sizeof tmp, "%s ", words[rnd() % 20])
                        : snprintf(tmp, sizeof tmp, "{\"id\":%u,\"name\":\"%s\",\"v\":%u},",
                                   (unsigned)(rnd() % 100000), words[rnd() % 20],
                                   (unsigned)(rnd() % 1000));
      if ((size_t)k > n - i) { /* no cut code points: pad with ASCII */
        while (i < n) b[i++] = '.';
        break;
      }
      memcpy(b + i, tmp, (size_t)k);
      i += (size_t)k;
    }
    break;
  case 4:
    while (i < n) {
      uint32_t cp = (uint32_t)(rnd() % 0x10FFFF);
      if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
      uint8_t u[4];
      size_t k;
      if (cp < 0x80) u[0] = (uint8_t)cp, k = 1;
      else if (cp < 0x800) u[0] = (uint8_t)(0xC0 | cp >> 6), u[1] = (uint8_t)(0x80 | (cp & 63)), k = 2;
      else if (cp < 0x10000)
        u[0] = (uint8_t)(0xE0 | cp >> 12), u[1] = (uint8_t)(0x80 | (cp >> 6 & 63)),
        u[2] = (uint8_t)(0x80 | (cp & 63)), k = 3;
      else
        u[0] = (uint8_t)(0xF0 | cp >> 18), u[1] = (uint8_t)(0x80 | (cp >> 12 & 63)),
        u[2] = (uint8_t)(0x80 | (cp >> 6 & 63)), u[3] = (uint8_t)(0x80 | (cp & 63)), k = 4;
      if (i + k > n) { /* pad with ASCII so the text stays valid */
        while (i < n) b[i++] = 'a';
        break;
      }
      memcpy(b + i, u, k);
      i += k;
    }
    break;
  }
}

/* The message collector a connection would use: appends, validates UTF-8 of text
 * incrementally and fails fast with 1007. */
typedef struct collector {
  wbuf b;
  bool text;
  utf8_state u;
  size_t calls, biggest;
  size_t abort_after; /* > 0: return 1008 once this many bytes were received */
} collector;

static int collect(void *ud, const uint8_t *p, size_t n) {
  collector *c = ud;
  c->calls++;
  if (n > c->biggest) c->biggest = n;
  if (c->text && utf8_feed(&c->u, p, n) != UTF8_OK) return 1007;
  wbuf_append(&c->b, p, n);
  if (c->abort_after && c->b.len >= c->abort_after) return 1008;
  return 0;
}

static void collector_start(collector *c, bool text) {
  wbuf_reset(&c->b);
  c->text = text;
  utf8_init(&c->u);
  c->calls = c->biggest = 0;
  c->abort_after = 0;
}

/* Feeds a compressed payload in random pieces (some empty), then fin. max_piece 0: at once. */
static int feed(pmd_conn *c, const uint8_t *d, size_t n, collector *col, size_t max_piece) {
  size_t off = 0;
  while (off < n) {
    size_t k = max_piece ? (size_t)(rnd() % (max_piece + 1)) : n;
    if (k > n - off) k = n - off;
    bool fin = off + k == n && rnd() % 2;
    int rc = pmd_decompress(c, d + off, k, fin, collect, col);
    if (rc) return rc;
    off += k;
    if (fin) return col->text && !utf8_complete(&col->u) ? 1007 : 0;
  }
  int rc = pmd_decompress(c, NULL, 0, true, collect, col);
  if (rc) return rc;
  return col->text && !utf8_complete(&col->u) ? 1007 : 0;
}

/* ---- the reference server: plain zlib --------------------------------------------------- */

typedef struct peer {
  z_stream def, inf;
  bool reset_def, reset_inf;
} peer;

/* The peer helpers do not use CHECK: they also run on test threads. */
static bool peer_init(peer *pe, const pmd_params *p, bool keep_inflate_context) {
  memset(pe, 0, sizeof *pe);
  int sb = p->server_max_window_bits < 9 ? 9 : p->server_max_window_bits;
  /* the server inflates with exactly the window it granted us, 8 included */
  if (deflateInit2(&pe->def, 6, Z_DEFLATED, -sb, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
      inflateInit2(&pe->inf, -(int)p->client_max_window_bits) != Z_OK)
    return false;
  pe->reset_def = p->server_no_context_takeover;
  pe->reset_inf = p->client_no_context_takeover && !keep_inflate_context;
  return true;
}

static void peer_free(peer *pe) {
  deflateEnd(&pe->def);
  inflateEnd(&pe->inf);
}

/* Server → client payload (RFC 7692 §7.2.1). Caller frees; NULL if zlib misbehaved. */
static uint8_t *peer_compress(peer *pe, const uint8_t *d, size_t n, size_t *outlen) {
  size_t cap = deflateBound(&pe->def, n) + 64;
  uint8_t *out = malloc(cap);
  if (n == 0) { /* zlib refuses a second sync flush without input: RFC 7692 §7.2.3.6 form */
    out[0] = 0x00;
    *outlen = 1;
    return out;
  }
  pe->def.next_in = (Bytef *)d;
  pe->def.avail_in = (uInt)n;
  pe->def.next_out = out;
  pe->def.avail_out = (uInt)cap;
  int rc = deflate(&pe->def, Z_SYNC_FLUSH);
  size_t len = cap - pe->def.avail_out;
  if (rc != Z_OK || pe->def.avail_in || !pe->def.avail_out || len < 4 ||
      memcmp(out + len - 4, "\x00\x00\xff\xff", 4) != 0) {
    free(out);
    return NULL;
  }
  *outlen = len - 4;
  if (pe->reset_def) deflateReset(&pe->def);
  return out;
}

/* Client → server: append the tail and inflate everything (RFC 7692 §7.2.2). */
static bool peer_inflate(peer *pe, const uint8_t *d, size_t n, wbuf *out) {
  uint8_t *in = malloc(n + 4);
  memcpy(in, d, n);
  memcpy(in + n, "\x00\x00\xff\xff", 4);
  pe->inf.next_in = in;
  pe->inf.avail_in = (uInt)(n + 4);
  bool ok = true;
  wbuf_reset(out);
  for (;;) {
    uint8_t buf[8192];
    pe->inf.next_out = buf;
    pe->inf.avail_out = sizeof buf;
    int rc = inflate(&pe->inf, Z_SYNC_FLUSH);
    wbuf_append(out, buf, sizeof buf - pe->inf.avail_out);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok = false;
      break;
    }
    if (pe->inf.avail_in == 0 && pe->inf.avail_out != 0) break;
  }
  free(in);
  if (pe->reset_inf) inflateReset(&pe->inf);
  return ok;
}

/* peer_compress on the main thread: a failure of the reference itself ends the test. */
static uint8_t *peer_msg(peer *pe, const uint8_t *d, size_t n, size_t *outlen) {
  uint8_t *r = peer_compress(pe, d, n, outlen);
  if (!r) {
    fprintf(stderr, "reference deflate failed\n");
    exit(1);
  }
  return r;
}

/* ---- negotiation ----------------------------------------------------------------------- */

static void test_offers(void) {
  CHECK_STR(pmd_offer(PMD_CONTEXT_TAKEOVER),
            "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12, "
            "permessage-deflate; client_max_window_bits=12");
  CHECK_STR(pmd_offer(PMD_NO_CONTEXT),
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
            "client_max_window_bits");
  CHECK(pmd_offer(PMD_DISABLED) == NULL);
  CHECK(pmd_offer(3) == NULL);
  CHECK(pmd_offer(-1) == NULL);
  /* the offers are valid syntax for our own parser (as an answer they fail only on
   * semantics: the takeover offer has two elements, the no-context one a valueless
   * client_max_window_bits) */
  refuse(PMD_CONTEXT_TAKEOVER, pmd_offer(PMD_CONTEXT_TAKEOVER), "more than once");
  refuse(PMD_NO_CONTEXT, pmd_offer(PMD_NO_CONTEXT), "client_max_window_bits needs a value");
}

static void test_negotiate_accepted(void) {
  pmd_params p;
  /* declined: no header, empty values, empty list elements */
  char err[PMD_ERR_MAX];
  CHECK_EQ(pmd_negotiate(PMD_CONTEXT_TAKEOVER, NULL, 0, &p, err, sizeof err), 0);
  CHECK(!p.enabled);
  p = agree(PMD_CONTEXT_TAKEOVER, "");
  CHECK(!p.enabled);
  p = agree(PMD_NO_CONTEXT, " , ,\t");
  CHECK(!p.enabled);
  p = agree(PMD_DISABLED, "");
  CHECK(!p.enabled);

  /* takeover, bare acceptance: the server keeps a 32 KiB window, we use the offered 12 */
  p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate");
  CHECK(p.enabled);
  CHECK(!p.server_no_context_takeover && !p.client_no_context_takeover);
  CHECK_EQ(p.server_max_window_bits, 15);
  CHECK_EQ(p.client_max_window_bits, 12);
  /* first element accepted as offered */
  p = agree(PMD_CONTEXT_TAKEOVER,
            "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
  CHECK_EQ(p.server_max_window_bits, 12);
  CHECK_EQ(p.client_max_window_bits, 12);
  /* server_max_window_bits honoured, whatever the value (it may come unrequested) */
  for (int b = 8; b <= 15; b++) {
    char a[96];
    snprintf(a, sizeof a, "permessage-deflate; server_max_window_bits=%d", b);
    p = agree(PMD_CONTEXT_TAKEOVER, a);
    CHECK_EQ(p.server_max_window_bits, b);
    CHECK_EQ(p.client_max_window_bits, 12);
    p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover; "
                              "server_max_window_bits=9");
    CHECK_EQ(p.server_max_window_bits, 9);
  }
  /* client_max_window_bits answered: ≤ the offered 12 in takeover, anything in no-context */
  for (int b = 8; b <= 12; b++) {
    char a[96];
    snprintf(a, sizeof a, "permessage-deflate;client_max_window_bits=%d", b);
    p = agree(PMD_CONTEXT_TAKEOVER, a);
    CHECK_EQ(p.client_max_window_bits, b);
  }
  p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover; "
                            "client_no_context_takeover");
  CHECK(p.server_no_context_takeover && p.client_no_context_takeover);
  CHECK_EQ(p.server_max_window_bits, 15);
  CHECK_EQ(p.client_max_window_bits, 15);
  p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover; "
                            "client_max_window_bits=15");
  CHECK_EQ(p.client_max_window_bits, 15);
  CHECK(p.client_no_context_takeover); /* we reset our side regardless */
  p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover; "
                            "client_max_window_bits=10");
  CHECK_EQ(p.client_max_window_bits, 10);
  /* no-context parameters may come unrequested in takeover mode */
  p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_no_context_takeover; "
                                  "client_no_context_takeover");
  CHECK(p.server_no_context_takeover && p.client_no_context_takeover);
  p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_no_context_takeover");
  CHECK(!p.server_no_context_takeover && p.client_no_context_takeover);

  /* syntax latitude: whitespace, tabs, case, empty list elements, quoted values */
  p = agree(PMD_CONTEXT_TAKEOVER,
            " ,  permessage-deflate ;server_max_window_bits = 10\t;\tclient_max_window_bits=9 , ");
  CHECK_EQ(p.server_max_window_bits, 10);
  CHECK_EQ(p.client_max_window_bits, 9);
  p = agree(PMD_CONTEXT_TAKEOVER, "PerMessage-Deflate; Server_Max_Window_Bits=11");
  CHECK_EQ(p.server_max_window_bits, 11);
  p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"10\"; "
                                  "client_max_window_bits=\"1\\1\"");
  CHECK_EQ(p.server_max_window_bits, 10);
  CHECK_EQ(p.client_max_window_bits, 11);

  /* several header lines form one list */
  const char *l1 = "permessage-deflate; server_max_window_bits=9";
  ws_str lines[3] = {{"", 0}, {l1, strlen(l1)}, {" ,", 2}};
  CHECK_EQ(pmd_negotiate(PMD_CONTEXT_TAKEOVER, lines, 3, &p, err, sizeof err), 0);
  CHECK(p.enabled);
  CHECK_EQ(p.server_max_window_bits, 9);
}

static void test_negotiate_refused(void) {
  /* unknown extensions: we only offered permessage-deflate */
  refuse(PMD_CONTEXT_TAKEOVER, "x-webkit-deflate-frame", "\"x-webkit-deflate-frame\"");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate, foo", "\"foo\", which was not offered");
  refuse(PMD_CONTEXT_TAKEOVER, "foo; a=b, permessage-deflate", "\"foo\"");
  refuse(PMD_DISABLED, "permessage-deflate", "not offered");
  refuse(7, "", "invalid compression mode 7");
  /* permessage-deflate twice, also across header lines */
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate, permessage-deflate", "more than once");
  pmd_params p;
  char err[PMD_ERR_MAX];
  ws_str two[2] = {{"permessage-deflate", 18}, {"permessage-deflate", 18}};
  CHECK_EQ(pmd_negotiate(PMD_NO_CONTEXT, two, 2, &p, err, sizeof err), -1);
  CHECK(strstr(err, "more than once") != NULL);
  /* unknown parameters */
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; foo", "parameter \"foo\"");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; foo=1", "parameter \"foo\"");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window", "server_max_window");
  /* duplicates */
  refuse(PMD_CONTEXT_TAKEOVER,
         "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
         "duplicate parameter server_max_window_bits");
  refuse(PMD_CONTEXT_TAKEOVER,
         "permessage-deflate; client_max_window_bits=9; Client_Max_Window_Bits=9",
         "duplicate parameter client_max_window_bits");
  refuse(PMD_NO_CONTEXT,
         "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
         "duplicate parameter server_no_context_takeover");
  refuse(PMD_CONTEXT_TAKEOVER,
         "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
         "duplicate parameter client_no_context_takeover");
  /* values where none is allowed */
  refuse(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover=1",
         "server_no_context_takeover takes no value");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_no_context_takeover=\"\"",
         "client_no_context_takeover takes no value");
  /* missing and bad window bits */
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits",
         "server_max_window_bits needs a value");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_max_window_bits",
         "client_max_window_bits needs a value");
  const char *bad[] = {"7", "16", "0", "08", "015", "-9", "+9", "9.0", "1e1", "abc", "99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char a[96];
    snprintf(a, sizeof a, "permessage-deflate; server_max_window_bits=%s", bad[i]);
    refuse(PMD_CONTEXT_TAKEOVER, a, "invalid server_max_window_bits");
    snprintf(a, sizeof a, "permessage-deflate; client_max_window_bits=\"%s\"", bad[i]);
    refuse(PMD_CONTEXT_TAKEOVER, a, "invalid client_max_window_bits");
  }
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"\"",
         "invalid server_max_window_bits");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"1 0\"",
         "invalid server_max_window_bits");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"1,0\"",
         "invalid server_max_window_bits");
  /* client_max_window_bits above what we offered */
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_max_window_bits=13",
         "client_max_window_bits=13 exceeds the 12 offered");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_max_window_bits=15", "exceeds");
  /* a requested server_no_context_takeover the server did not confirm */
  refuse(PMD_NO_CONTEXT, "permessage-deflate", "did not confirm");
  refuse(PMD_NO_CONTEXT, "permessage-deflate; client_no_context_takeover", "did not confirm");
  /* syntax */
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate;", "expected a parameter name at offset 19");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; =3", "expected a parameter name");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate x", "expected ';' or ','");
  refuse(PMD_CONTEXT_TAKEOVER, "; permessage-deflate", "expected an extension name at offset 0");
  refuse(PMD_CONTEXT_TAKEOVER, "\"permessage-deflate\"", "expected an extension name");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=",
         "expected a parameter value");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"10",
         "bad quoted string");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"1\x01\"",
         "bad quoted string");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=\"10\\",
         "bad quoted string");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=10 11",
         "expected ';' or ','");
  refuse(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_no_context_takeover\x7f",
         "expected ';' or ','");
  /* server text in messages is bounded and printable */
  char longname[300];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  CHECK_EQ(neg(PMD_CONTEXT_TAKEOVER, longname, &p, err, sizeof err), -1);
  CHECK(strlen(err) < 120 && strstr(err, "...") != NULL);
  /* a tiny error buffer is fine */
  char tiny[4];
  CHECK_EQ(neg(PMD_CONTEXT_TAKEOVER, "foo", &p, tiny, sizeof tiny), -1);
  CHECK_EQ(strlen(tiny), 3);
  CHECK_EQ(neg(PMD_CONTEXT_TAKEOVER, "foo", &p, NULL, 0), -1);
}

/* ---- codec ----------------------------------------------------------------------------- */

static size_t conn_bound(const pmd_params *p) {
  size_t b = 1024; /* struct and allocator headers */
  if (!p->client_no_context_takeover) b += (size_t)1 << p->client_max_window_bits;
  if (!p->server_no_context_takeover) b += (size_t)1 << p->server_max_window_bits;
  return b;
}

typedef struct rt_config {
  const char *name;
  int mode;
  const char *answer;
  bool peer_keeps_inflate_context; /* the server did not confirm client_no_context_takeover */
  size_t threshold;
} rt_config;

static const size_t fixed_sizes[] = {0,     1,     2,     10,     100,    127,    128,
                                     129,   255,   256,   1000,   4095,   4096,   4097,
                                     32768, 65535, 65536, 100000, 262144, 1 << 20};

static void roundtrip(const rt_config *cfg) {
  pmd_params p = agree(cfg->mode, cfg->answer);
  CHECK(p.enabled);
  pmd_conn *c = pmd_conn_new(&p, cfg->threshold, 0);
  CHECK(c != NULL);
  if (!c) return;
  peer pe;
  CHECK(peer_init(&pe, &p, cfg->peer_keeps_inflate_context));
  size_t nfixed = sizeof fixed_sizes / sizeof fixed_sizes[0];
  size_t nmsg = 260, compressed = 0, plain = 0;
  uint8_t *msg = malloc(1 << 20);
  wbuf out = WBUF_INIT, back = WBUF_INIT;
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  for (size_t i = 0; i < nmsg; i++) {
    size_t len;
    int kind = (int)(i % 5);
    if (i < 2 * nfixed) {
      len = fixed_sizes[i % nfixed];
      if (i >= nfixed) kind = (int)((i / 3) % 5);
      if (len == 1 << 20) kind = i < nfixed ? 0 : 1; /* 1 MB: random, then text */
    } else {
      len = rnd() % 4 == 0 ? (size_t)(rnd() % 20000) : (size_t)(rnd() % 600);
    }
    gen(msg, len, kind);
    bool text = kind_is_text(kind);

    /* client → server */
    wbuf_reset(&out);
    wbuf_append(&out, "HDR", 3); /* pmd_compress appends after what is there */
    int r = pmd_compress(c, msg, len, &out);
    CHECK(r == PMD_PLAIN || r == PMD_COMPRESSED);
    if (len < cfg->threshold) CHECK_EQ(r, PMD_PLAIN);
    if (r == PMD_COMPRESSED) {
      compressed++;
      CHECK(out.len - 3 < len);
      CHECK(peer_inflate(&pe, (uint8_t *)out.data + 3, out.len - 3, &back));
      CHECK_EQ(back.len, len);
      CHECK(back.len == len && memcmp(back.data, msg, len) == 0);
    } else {
      plain++;
      CHECK_EQ(out.len, 3);
    }
    if (kind == 1 && len >= 600 && len >= cfg->threshold) CHECK_EQ(r, PMD_COMPRESSED);

    /* server → client, in pieces of random size */
    size_t plen;
    uint8_t *payload = peer_msg(&pe, msg, len, &plen);
    collector_start(&col, text);
    size_t piece = (size_t[]){0, 1, 7, 100, 5000}[i % 5];
    int rc = feed(c, payload, plen, &col, piece);
    free(payload);
    CHECK_EQ(rc, 0);
    if (rc)
      fprintf(stderr, "config %s: message %zu (%zu bytes, kind %d, pieces %zu): %s\n", cfg->name,
              i, len, kind, piece, pmd_error(c));
    CHECK_EQ(col.b.len, len);
    CHECK(col.b.len == len && (len == 0 || memcmp(col.b.data, msg, len) == 0));
    CHECK(col.biggest <= PMD_OUT_CHUNK);
    CHECK(!pmd_in_message(c));
    /* between messages: the struct and the windows, no zlib state */
    CHECK(pmd_conn_bytes(c) <= conn_bound(&p));
  }
  CHECK(compressed > nmsg / 3);
  CHECK(plain > 0);
  if (t_failures) fprintf(stderr, "config %s: %zu compressed, %zu plain\n", cfg->name, compressed, plain);
  free(msg);
  wbuf_free(&out);
  wbuf_free(&back);
  wbuf_free(&col.b);
  peer_free(&pe);
  pmd_conn_free(c);
}

static void test_roundtrips(void) {
  static const rt_config cfgs[] = {
      {"takeover 12/12", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12", false, 128},
      {"takeover fallback (server window 15)", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; client_max_window_bits=12", false, 0},
      {"takeover 8/8", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; client_max_window_bits=8; server_max_window_bits=8", false, 16},
      {"takeover 9/10", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10", false, 1},
      {"takeover answered with no-context (gorilla style)", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false, 128},
      {"server no context, client takeover", PMD_CONTEXT_TAKEOVER,
       "permessage-deflate; server_no_context_takeover; server_max_window_bits=11", false, 64},
      {"no context", PMD_NO_CONTEXT,
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false, 128},
      {"no context, server keeps its inflate context", PMD_NO_CONTEXT,
       "permessage-deflate; server_no_context_takeover", true, 0},
      {"no context, windows 8/9", PMD_NO_CONTEXT,
       "permessage-deflate; server_no_context_takeover; client_max_window_bits=8; "
       "server_max_window_bits=9",
       false, 0},
  };
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) roundtrip(&cfgs[i]);
}

/* ---- RFC 7692 §7.2.3 examples ------------------------------------------------------------ */

static int decode(pmd_conn *c, const char *bytes, size_t n, collector *col) {
  collector_start(col, true);
  return feed(c, (const uint8_t *)bytes, n, col, 0);
}

static void test_rfc_examples(void) {
  pmd_params nc = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  pmd_params tk = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate");
  pmd_conn *c = pmd_conn_new(&tk, 0, 0);
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  /* §7.2.3.1 "Hello", then §7.2.3.2 the same again using the shared window */
  CHECK_EQ(decode(c, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, &col), 0);
  CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
  CHECK_EQ(decode(c, "\xf2\x00\x11\x00\x00", 5, &col), 0);
  CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
  /* §7.2.3.3 a stored block, §7.2.3.5 two blocks in one message, §7.2.3.6 an empty message */
  CHECK_EQ(decode(c, "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11, &col), 0);
  CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
  CHECK_EQ(decode(c, "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00", 13, &col), 0);
  CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
  CHECK_EQ(decode(c, "\x00", 1, &col), 0);
  CHECK_EQ(col.b.len, 0);
  CHECK_EQ(decode(c, "", 0, &col), 0); /* no payload at all: taken as empty */
  CHECK_EQ(col.b.len, 0);
  pmd_conn_free(c);

  /* §7.2.3.4 BFINAL set, with and without the trailing 0x00, piece by piece; the window
   * survives it for the next message */
  for (int variant = 0; variant < 2; variant++) {
    c = pmd_conn_new(&tk, 0, 0);
    size_t n = variant ? 7 : 8;
    collector_start(&col, true);
    CHECK_EQ(feed(c, (const uint8_t *)"\xf3\x48\xcd\xc9\xc9\x07\x00\x00", n, &col, 1), 0);
    CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
    CHECK_EQ(decode(c, "\xf2\x00\x11\x00\x00", 5, &col), 0);
    CHECK(col.b.len == 5 && memcmp(col.b.data, "Hello", 5) == 0);
    pmd_conn_free(c);
  }
  /* data after a BFINAL block inside one message continues the same history */
  c = pmd_conn_new(&nc, 0, 0);
  collector_start(&col, true);
  CHECK_EQ(feed(c, (const uint8_t *)"\xf3\x48\xcd\xc9\xc9\x07\x00\xf2\x00\x11\x00\x00", 12, &col,
                3),
           0);
  CHECK(col.b.len == 10 && memcmp(col.b.data, "HelloHello", 10) == 0);
  /* no context: the second-message example must not decode (no window to refer to) */
  CHECK_EQ(decode(c, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, &col), 0);
  CHECK_EQ(decode(c, "\xf2\x00\x11\x00\x00", 5, &col), 1007);
  CHECK(strstr(pmd_error(c), "invalid compressed data") != NULL);
  pmd_conn_free(c);
  wbuf_free(&col.b);
}

/* ---- limits and bad data --------------------------------------------------------------- */

static void test_bomb(void) {
  pmd_params p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  peer pe;
  CHECK(peer_init(&pe, &p, false));
  size_t big = 10u << 20;
  uint8_t *zeros = calloc(1, big);
  size_t plen;
  uint8_t *bomb = peer_msg(&pe, zeros, big, &plen);
  CHECK(plen < 12000); /* ~10 KB on the wire */
  uint64_t limit = 1u << 20;
  pmd_conn *c = pmd_conn_new(&p, 0, limit);
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  for (int pieces = 0; pieces < 3; pieces++) {
    collector_start(&col, false);
    int rc = feed(c, bomb, plen, &col, (size_t[]){0, 1000, 13}[pieces]);
    CHECK_EQ(rc, 1009);
    CHECK(col.b.len <= limit);
    CHECK(col.b.len >= limit - PMD_OUT_CHUNK);
    CHECK(strstr(pmd_error(c), "read_limit (1048576 bytes)") != NULL);
    CHECK(strlen(pmd_error(c)) <= 123);
    CHECK_EQ(pmd_decompress(c, bomb, 10, true, collect, &col), 1009); /* sticky */
    CHECK(!pmd_in_message(c));
    CHECK(pmd_conn_bytes(c) < 512); /* the stream went back to the pool */
    pmd_conn_free(c);
    c = pmd_conn_new(&p, 0, limit);
  }
  pmd_conn_free(c);
  /* exactly at the limit passes, one byte over fails */
  size_t exact = 300000;
  uint8_t *pl = peer_msg(&pe, zeros, exact, &plen);
  c = pmd_conn_new(&p, 0, exact);
  collector_start(&col, false);
  CHECK_EQ(feed(c, pl, plen, &col, 0), 0);
  CHECK_EQ(col.b.len, exact);
  pmd_conn_free(c);
  c = pmd_conn_new(&p, 0, exact - 1);
  collector_start(&col, false);
  CHECK_EQ(feed(c, pl, plen, &col, 77), 1009);
  CHECK(col.b.len <= exact - 1);
  pmd_conn_free(c);
  /* read_limit 1 */
  c = pmd_conn_new(&p, 0, 1);
  collector_start(&col, false);
  CHECK_EQ(feed(c, pl, plen, &col, 0), 1009);
  CHECK(col.b.len <= 1);
  pmd_conn_free(c);
  free(pl);
  free(bomb);
  free(zeros);
  peer_free(&pe);
  wbuf_free(&col.b);
}

static void test_corrupt(void) {
  pmd_params p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate");
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  struct {
    const char *d;
    size_t n;
    const char *why;
  } cases[] = {
      {"\xff\xff\xff\xff", 4, "invalid compressed data"},      /* reserved block type 3 */
      {"\x00\x05\x00\x00\x00Hello", 10, "invalid compressed data"}, /* LEN/NLEN mismatch */
      {"\xf2\x48\xcd\xc9", 4, "invalid compressed data"},      /* truncated */
      {"\x00\x05\x00\xfa\xff", 5, "ends inside a deflate block"}, /* truncated stored */
      {"\xf2\x00\x11\x00\x00", 5, "invalid compressed data"},  /* distance beyond history */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (size_t piece = 0; piece < 3; piece++) {
      pmd_conn *c = pmd_conn_new(&p, 0, 0);
      collector_start(&col, false);
      CHECK_EQ(feed(c, (const uint8_t *)cases[i].d, cases[i].n, &col, piece), 1007);
      CHECK(strlen(pmd_error(c)) <= 123); /* usable as a close reason */
      if (!strstr(pmd_error(c), cases[i].why)) {
        fprintf(stderr, "corrupt case %zu: \"%s\"\n", i, pmd_error(c));
        CHECK(0);
      }
      CHECK(!pmd_in_message(c));
      CHECK_EQ(pmd_decompress(c, (const uint8_t *)"\x00", 1, true, collect, &col), 1007);
      pmd_conn_free(c);
    }
  }
  /* a compressed text message with invalid UTF-8 fails fast in the sink, before its end */
  pmd_params nc = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  peer pe;
  CHECK(peer_init(&pe, &nc, false));
  size_t n = 200000, plen;
  uint8_t *txt = malloc(n);
  gen(txt, n, 1);
  txt[1000] = 0xC0; /* overlong lead byte */
  uint8_t *pl = peer_msg(&pe, txt, n, &plen);
  pmd_conn *c = pmd_conn_new(&nc, 0, 0);
  collector_start(&col, true);
  CHECK_EQ(pmd_decompress(c, pl, plen, false, collect, &col), 1007);
  CHECK(col.b.len < PMD_OUT_CHUNK);
  CHECK(!pmd_in_message(c));
  /* the sink's own code ends the message too */
  pmd_conn_free(c);
  c = pmd_conn_new(&nc, 0, 0);
  collector_start(&col, false);
  col.abort_after = 40000;
  CHECK_EQ(feed(c, pl, plen, &col, 3000), 1008);
  CHECK(col.b.len < 40000 + PMD_OUT_CHUNK);
  CHECK_STR(pmd_error(c), "message rejected while inflating (close code 1008)");
  pmd_conn_free(c);
  free(pl);
  free(txt);
  peer_free(&pe);
  wbuf_free(&col.b);
}

/* ---- pooled streams -------------------------------------------------------------------- */

/* Two connections receive interleaved pieces and send interleaved messages: each message is
 * correct, and a connection holds a stream only while its message is open. */
static void interleave(int mode, const char *answer) {
  pmd_params p = agree(mode, answer);
  pmd_conn *c[2] = {pmd_conn_new(&p, 0, 0), pmd_conn_new(&p, 0, 0)};
  peer pe[2];
  CHECK(peer_init(&pe[0], &p, false));
  CHECK(peer_init(&pe[1], &p, false));
  collector col[2] = {{WBUF_INIT, false, {0}, 0, 0, 0}, {WBUF_INIT, false, {0}, 0, 0, 0}};
  wbuf out = WBUF_INIT, back = WBUF_INIT;
  uint8_t *msg[2] = {malloc(70000), malloc(70000)}, outmsg[3000];
  gen(outmsg, sizeof outmsg, 2);
  for (int round = 0; round < 40; round++) {
    size_t len[2], plen[2], off[2] = {0, 0};
    uint8_t *pl[2];
    for (int k = 0; k < 2; k++) {
      len[k] = 1000 + rnd() % 60000;
      gen(msg[k], len[k], 1 + (int)(rnd() % 2));
      pl[k] = peer_msg(&pe[k], msg[k], len[k], &plen[k]);
      collector_start(&col[k], true);
    }
    size_t base = pmd_conn_bytes(c[1]); /* between messages */
    /* pieces alternate; both messages are open at the same time */
    while (off[0] < plen[0] || off[1] < plen[1]) {
      for (int k = 0; k < 2; k++) {
        size_t take = 1 + rnd() % 700;
        if (take > plen[k] - off[k]) take = plen[k] - off[k];
        CHECK_EQ(pmd_decompress(c[k], pl[k] + off[k], take, false, collect, &col[k]), 0);
        off[k] += take;
      }
      CHECK(pmd_in_message(c[0]) && pmd_in_message(c[1]));
      CHECK(pmd_conn_bytes(c[1]) > base); /* holds its own lent stream */
      /* an outgoing message of the other connection in the middle of it all */
      int k = (int)(rnd() % 2);
      wbuf_reset(&out);
      if (pmd_compress(c[k], outmsg, sizeof outmsg, &out) == PMD_COMPRESSED) {
        CHECK(peer_inflate(&pe[k], (uint8_t *)out.data, out.len, &back));
        CHECK(back.len == sizeof outmsg && memcmp(back.data, outmsg, sizeof outmsg) == 0);
      }
    }
    for (int k = 0; k < 2; k++) {
      CHECK_EQ(pmd_decompress(c[k], NULL, 0, true, collect, &col[k]), 0);
      CHECK(col[k].b.len == len[k] && memcmp(col[k].b.data, msg[k], len[k]) == 0);
      CHECK(!pmd_in_message(c[k]));
      free(pl[k]);
    }
    CHECK(pmd_conn_bytes(c[1]) <= conn_bound(&p));
  }
  CHECK(pmd_pool_bytes() > 0); /* streams are kept for reuse, not per connection */
  for (int k = 0; k < 2; k++) {
    pmd_conn_free(c[k]);
    peer_free(&pe[k]);
    wbuf_free(&col[k].b);
    free(msg[k]);
  }
  wbuf_free(&out);
  wbuf_free(&back);
}

static void test_interleaved(void) {
  interleave(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  interleave(PMD_CONTEXT_TAKEOVER,
             "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
  interleave(PMD_CONTEXT_TAKEOVER, "permessage-deflate; client_max_window_bits=10");
}

/* A connection freed in the middle of a message gives its stream back. */
static void test_free_mid_message(void) {
  pmd_thread_release();
  size_t base = pmd_live_bytes();
  pmd_params p = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate");
  pmd_conn *c = pmd_conn_new(&p, 0, 0);
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  collector_start(&col, false);
  CHECK_EQ(pmd_decompress(c, (const uint8_t *)"\xf2\x48", 2, false, collect, &col), 0);
  CHECK(pmd_in_message(c));
  CHECK(pmd_conn_bytes(c) > 7000); /* the inflate state is lent to it */
  pmd_conn_free(c);
  CHECK(pmd_pool_bytes() > 0);
  pmd_thread_release();
  CHECK_EQ(pmd_pool_bytes(), 0);
  CHECK_EQ(pmd_live_bytes(), base);
  wbuf_free(&col.b);
}

typedef struct thread_arg {
  pmd_params p;
  int id;
  int failures;
  size_t pool_after;
} thread_arg;

static void *worker(void *ud) {
  thread_arg *a = ud;
  pmd_conn *c = pmd_conn_new(&a->p, 0, 0);
  peer pe;
  if (!c || !peer_init(&pe, &a->p, false)) {
    a->failures++;
    return NULL;
  }
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  wbuf out = WBUF_INIT, back = WBUF_INIT;
  uint8_t msg[5000];
  for (int i = 0; i < 300; i++) {
    memset(msg, 'a' + a->id, sizeof msg);
    snprintf((char *)msg, 40, "thread %d message %d", a->id, i);
    size_t plen;
    uint8_t *pl = peer_compress(&pe, msg, sizeof msg, &plen);
    if (!pl) {
      a->failures++;
      break;
    }
    collector_start(&col, false);
    size_t off = 0;
    while (off < plen) { /* small pieces so the threads overlap mid-message */
      size_t take = plen - off < 5 ? plen - off : 5;
      if (pmd_decompress(c, pl + off, take, false, collect, &col)) a->failures++;
      off += take;
    }
    if (pmd_decompress(c, NULL, 0, true, collect, &col)) a->failures++;
    if (col.b.len != sizeof msg || memcmp(col.b.data, msg, sizeof msg)) a->failures++;
    free(pl);
    wbuf_reset(&out);
    if (pmd_compress(c, msg, sizeof msg, &out) != PMD_COMPRESSED) a->failures++;
    if (!peer_inflate(&pe, (uint8_t *)out.data, out.len, &back) || back.len != sizeof msg ||
        memcmp(back.data, msg, sizeof msg))
      a->failures++;
  }
  a->pool_after = pmd_pool_bytes();
  pmd_conn_free(c);
  peer_free(&pe);
  wbuf_free(&col.b);
  wbuf_free(&out);
  wbuf_free(&back);
  return NULL; /* the pool is released by the thread-exit destructor */
}

static void test_threads(void) {
  pmd_thread_release();
  size_t base = pmd_live_bytes();
  pmd_params p = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  pthread_t th[3];
  thread_arg args[3];
  for (int i = 0; i < 3; i++) {
    args[i] = (thread_arg){p, i, 0, 0};
    CHECK_EQ(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(args[i].failures, 0);
    CHECK(args[i].pool_after > 0);
  }
  CHECK_EQ(pmd_live_bytes(), base); /* every thread's pool was freed at its exit */
}

/* ---- memory ---------------------------------------------------------------------------- */

static void test_memory_model(void) {
  pmd_thread_release();
  size_t base = pmd_live_bytes();
  pmd_params tk = agree(PMD_CONTEXT_TAKEOVER,
                        "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
  pmd_params nc = agree(PMD_NO_CONTEXT, "permessage-deflate; server_no_context_takeover");
  pmd_conn *a = pmd_conn_new(&tk, 0, 0), *b = pmd_conn_new(&nc, 0, 0);
  size_t fresh = pmd_conn_bytes(a);
  CHECK_EQ(pmd_conn_bytes(b), fresh); /* the same struct, nothing else yet */
  CHECK(fresh < 512);
  peer pa, pb;
  CHECK(peer_init(&pa, &tk, false));
  CHECK(peer_init(&pb, &nc, false));
  uint8_t msg[20000];
  gen(msg, sizeof msg, 2);
  wbuf out = WBUF_INIT;
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(pmd_compress(a, msg, sizeof msg, &out), PMD_COMPRESSED);
    CHECK_EQ(pmd_compress(b, msg, sizeof msg, &out), PMD_COMPRESSED);
    size_t plen;
    uint8_t *pl = peer_msg(&pa, msg, sizeof msg, &plen);
    collector_start(&col, true);
    CHECK_EQ(feed(a, pl, plen, &col, 0), 0);
    free(pl);
    pl = peer_msg(&pb, msg, sizeof msg, &plen);
    collector_start(&col, true);
    CHECK_EQ(feed(b, pl, plen, &col, 0), 0);
    free(pl);
  }
  /* takeover: exactly two 4 KiB windows more; no-context: nothing more */
  CHECK_EQ(pmd_conn_bytes(a), fresh + 2 * (4096 + 16));
  CHECK_EQ(pmd_conn_bytes(b), fresh);
  CHECK_EQ(pmd_live_bytes() - base, pmd_conn_bytes(a) + pmd_conn_bytes(b) + pmd_pool_bytes());
  pmd_conn_free(a);
  pmd_conn_free(b);
  pmd_thread_release();
  CHECK_EQ(pmd_live_bytes(), base);
  peer_free(&pa);
  peer_free(&pb);
  wbuf_free(&out);
  wbuf_free(&col.b);
  /* invalid parameters are refused */
  pmd_params bad = tk;
  bad.client_max_window_bits = 16;
  CHECK(pmd_conn_new(&bad, 0, 0) == NULL);
  bad = tk;
  bad.server_max_window_bits = 7;
  CHECK(pmd_conn_new(&bad, 0, 0) == NULL);
  bad = tk;
  bad.enabled = false;
  CHECK(pmd_conn_new(&bad, 0, 0) == NULL);
  CHECK(pmd_conn_new(NULL, 0, 0) == NULL);
  pmd_conn_free(NULL);
}

/* Allocation failures: clear errors, no leak, and the context stays consistent, so sending
 * the message plain after a failed compression keeps the peer in step. */
static void test_alloc_failures(void) {
  pmd_thread_release();
  size_t base = pmd_live_bytes();
  pmd_params tk = agree(PMD_CONTEXT_TAKEOVER,
                        "permessage-deflate; client_max_window_bits=11; server_max_window_bits=11");
  pmd_inject_alloc_failure(0);
  CHECK(pmd_conn_new(&tk, 0, 0) == NULL);
  pmd_inject_alloc_failure(-1);
  uint8_t msg[3000];
  wbuf out = WBUF_INIT, back = WBUF_INIT;
  collector col = {WBUF_INIT, false, {0}, 0, 0, 0};
  for (long after = 0; after < 12; after++) {
    pmd_thread_release();
    pmd_conn *c = pmd_conn_new(&tk, 0, 0);
    peer pe;
    CHECK(peer_init(&pe, &tk, false));
    int sent_ok = 0;
    for (int i = 0; i < 6; i++) {
      gen(msg, sizeof msg, 1);
      if (i == 2) {
        pmd_thread_release(); /* so the pool has to allocate */
        pmd_inject_alloc_failure(after);
      }
      wbuf_reset(&out);
      wbuf_append(&out, "x", 1);
      int r = pmd_compress(c, msg, sizeof msg, &out);
      CHECK(r == PMD_COMPRESSED || r == PMD_FAILED);
      if (r == PMD_FAILED) {
        CHECK_EQ(out.len, 1);
        CHECK(strstr(pmd_error(c), "out of memory") != NULL);
      } else {
        CHECK(peer_inflate(&pe, (uint8_t *)out.data + 1, out.len - 1, &back));
        CHECK(back.len == sizeof msg && memcmp(back.data, msg, sizeof msg) == 0);
        sent_ok++;
      }
      pmd_inject_alloc_failure(-1);
    }
    CHECK(sent_ok >= 5);
    /* incoming side */
    size_t plen;
    uint8_t *pl = peer_msg(&pe, msg, sizeof msg, &plen);
    pmd_thread_release();
    pmd_inject_alloc_failure(after);
    collector_start(&col, false);
    int rc = feed(c, pl, plen, &col, 100);
    pmd_inject_alloc_failure(-1);
    CHECK(rc == 0 || rc == 1011);
    if (rc == 0) CHECK(col.b.len == sizeof msg && memcmp(col.b.data, msg, sizeof msg) == 0);
    if (rc == 1011) CHECK(strstr(pmd_error(c), "out of memory") != NULL);
    free(pl);
    peer_free(&pe);
    pmd_conn_free(c);
  }
  pmd_thread_release();
  CHECK_EQ(pmd_live_bytes(), base);
  wbuf_free(&out);
  wbuf_free(&back);
  wbuf_free(&col.b);
}

static void test_threshold_and_incompressible(void) {
  pmd_params tk = agree(PMD_CONTEXT_TAKEOVER, "permessage-deflate; server_max_window_bits=12");
  pmd_conn *c = pmd_conn_new(&tk, 1000, 0);
  peer pe;
  CHECK(peer_init(&pe, &tk, false));
  uint8_t msg[4000];
  wbuf out = WBUF_INIT, back = WBUF_INIT;
  gen(msg, sizeof msg, 1);
  CHECK_EQ(pmd_compress(c, msg, 999, &out), PMD_PLAIN);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(pmd_compress(c, msg, 1000, &out), PMD_COMPRESSED);
  CHECK(peer_inflate(&pe, (uint8_t *)out.data, out.len, &back));
  CHECK(back.len == 1000 && memcmp(back.data, msg, 1000) == 0);
  /* random data does not shrink: sent plain and kept out of the context, so the next
   * compressed message still decodes at the peer */
  uint8_t noise[4000];
  gen(noise, sizeof noise, 0);
  wbuf_reset(&out);
  CHECK_EQ(pmd_compress(c, noise, sizeof noise, &out), PMD_PLAIN);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(pmd_compress(c, msg, sizeof msg, &out), PMD_COMPRESSED);
  CHECK(peer_inflate(&pe, (uint8_t *)out.data, out.len, &back));
  CHECK(back.len == sizeof msg && memcmp(back.data, msg, sizeof msg) == 0);
  /* the second copy of a message is tiny thanks to the kept window */
  size_t first = out.len;
  wbuf_reset(&out);
  CHECK_EQ(pmd_compress(c, msg + 4000 - 2000, 2000, &out), PMD_COMPRESSED);
  CHECK(out.len < first / 4);
  CHECK(peer_inflate(&pe, (uint8_t *)out.data, out.len, &back));
  CHECK(back.len == 2000 && memcmp(back.data, msg + 2000, 2000) == 0);
  pmd_conn_free(c);
  peer_free(&pe);
  wbuf_free(&out);
  wbuf_free(&back);
}

static void test_cleanup(void) {
  pmd_thread_release();
  CHECK_EQ(pmd_live_bytes(), 0);
}

TEST_MAIN(test_offers, test_negotiate_accepted, test_negotiate_refused, test_roundtrips,
          test_rfc_examples, test_bomb, test_corrupt, test_interleaved, test_free_mid_message,
          test_threads, test_memory_model, test_alloc_failures, test_threshold_and_incompressible,
          test_cleanup)
