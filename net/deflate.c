/* net/deflate.c — permessage-deflate (RFC 7692): the offer, validation of the server's
 * Sec-WebSocket-Extensions answer, and the per-message codec over pooled zlib streams with
 * context takeover kept as plain windows (see net/deflate.h for the memory model).
 *
 * Invariants:
 *  - every byte this module allocates goes through cnt_alloc/cnt_free and is charged to one
 *    counter: a stream's own (pmd_zs.bytes, the struct included) or a connection's
 *    (pmd_conn.bytes: the struct and its windows);
 *  - a pmd_zs is either idle in exactly one thread's pool, lent to exactly one pmd_conn
 *    (c->inf, between the first and the last piece of an incoming message), or in use inside
 *    one pmd_compress call;
 *  - out_win holds the last ≤ 2^client_bits bytes of the messages we sent compressed, in_win
 *    the server's window after the last complete compressed message; both only with context
 *    takeover in that direction. */
#include "net/deflate.h"
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- counting allocator ---------------------------------------------------------------- */

#define PMD_HDR 16 /* size header in front of each block; keeps malloc's 16-byte alignment */

static atomic_size_t g_live;
static _Thread_local long tl_fail_after = -1;

static void *cnt_alloc(size_t *counter, size_t n) {
  if (tl_fail_after == 0 || n > SIZE_MAX - PMD_HDR) return NULL;
  unsigned char *p = malloc(n + PMD_HDR);
  if (!p) return NULL;
  if (tl_fail_after > 0) tl_fail_after--;
  memcpy(p, &n, sizeof n);
  *counter += n + PMD_HDR;
  atomic_fetch_add_explicit(&g_live, n + PMD_HDR, memory_order_relaxed);
  return p + PMD_HDR;
}

static void cnt_free(size_t *counter, void *q) {
  if (!q) return;
  unsigned char *p = (unsigned char *)q - PMD_HDR;
  size_t n;
  memcpy(&n, p, sizeof n);
  *counter -= n + PMD_HDR;
  atomic_fetch_sub_explicit(&g_live, n + PMD_HDR, memory_order_relaxed);
  free(p);
}

void pmd_inject_alloc_failure(long after) { tl_fail_after = after < 0 ? -1 : after; }

size_t pmd_live_bytes(void) { return atomic_load_explicit(&g_live, memory_order_relaxed); }

/* ---- pooled zlib streams --------------------------------------------------------------- */

typedef struct pmd_zs {
  z_stream z;
  size_t bytes;        /* everything zlib holds for this stream, this struct included */
  int bits;            /* deflate: zlib window bits (9..15, fixed); inflate: of the last reset */
  bool is_deflate;
  struct pmd_zs *next; /* idle list */
} pmd_zs;

static voidpf zs_zalloc(voidpf opaque, uInt items, uInt size) {
  pmd_zs *zs = opaque;
  if (size && items > SIZE_MAX / size) return Z_NULL;
  return cnt_alloc(&zs->bytes, (size_t)items * size);
}

static void zs_zfree(voidpf opaque, voidpf p) { cnt_free(&((pmd_zs *)opaque)->bytes, p); }

static pmd_zs *zs_new(void) {
  size_t bytes = 0;
  pmd_zs *zs = cnt_alloc(&bytes, sizeof *zs);
  if (!zs) return NULL;
  memset(zs, 0, sizeof *zs);
  zs->bytes = bytes;
  zs->z.zalloc = zs_zalloc;
  zs->z.zfree = zs_zfree;
  zs->z.opaque = zs;
  return zs;
}

static void zs_destroy(pmd_zs *zs) {
  if (zs->is_deflate)
    deflateEnd(&zs->z);
  else
    inflateEnd(&zs->z);
  cnt_free(&zs->bytes, zs);
}

typedef struct pmd_pool {
  pmd_zs *deflate[PMD_MAX_WINDOW_BITS + 1]; /* one idle deflate stream per zlib window size */
  pmd_zs *inflate;                          /* idle inflate streams, at most
                                               PMD_POOL_IDLE_INFLATE */
  unsigned ninflate;
  bool registered; /* the thread-exit destructor knows this pool */
} pmd_pool;

static _Thread_local pmd_pool tl_pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_key_ok;

static void pool_drain(pmd_pool *pool) {
  for (int b = 0; b <= PMD_MAX_WINDOW_BITS; b++) {
    if (pool->deflate[b]) zs_destroy(pool->deflate[b]);
    pool->deflate[b] = NULL;
  }
  while (pool->inflate) {
    pmd_zs *zs = pool->inflate;
    pool->inflate = zs->next;
    zs_destroy(zs);
  }
  pool->ninflate = 0;
}

static void pool_destructor(void *p) { pool_drain(p); }

static void pool_key_init(void) {
  pool_key_ok = pthread_key_create(&pool_key, pool_destructor) == 0;
}

static pmd_pool *pool_get(void) {
  pmd_pool *pool = &tl_pool;
  if (!pool->registered) {
    pthread_once(&pool_once, pool_key_init);
    if (pool_key_ok) pthread_setspecific(pool_key, pool);
    pool->registered = true;
  }
  return pool;
}

void pmd_thread_release(void) { pool_drain(&tl_pool); }

size_t pmd_pool_bytes(void) {
  size_t n = 0;
  for (int b = 0; b <= PMD_MAX_WINDOW_BITS; b++)
    if (tl_pool.deflate[b]) n += tl_pool.deflate[b]->bytes;
  for (pmd_zs *zs = tl_pool.inflate; zs; zs = zs->next) n += zs->bytes;
  return n;
}

/* A deflate stream with window zbits (9..15), reset, or NULL when out of memory. */
static pmd_zs *deflate_take(int zbits) {
  pmd_pool *pool = pool_get();
  pmd_zs *zs = pool->deflate[zbits];
  if (zs) {
    pool->deflate[zbits] = NULL;
    if (deflateReset(&zs->z) == Z_OK) return zs;
    zs_destroy(zs);
  }
  if (!(zs = zs_new())) return NULL;
  zs->is_deflate = true;
  zs->bits = zbits;
  if (deflateInit2(&zs->z, PMD_LEVEL, Z_DEFLATED, -zbits, PMD_MEM_LEVEL, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    cnt_free(&zs->bytes, zs); /* a failed deflateInit2 has freed its own allocations */
    return NULL;
  }
  return zs;
}

static void deflate_give(pmd_zs *zs) {
  pmd_pool *pool = pool_get();
  if (pool->deflate[zs->bits])
    zs_destroy(zs);
  else
    pool->deflate[zs->bits] = zs;
}

/* An inflate stream reset to a raw window of `bits`, or NULL when out of memory. */
static pmd_zs *inflate_take(int bits) {
  pmd_pool *pool = pool_get();
  pmd_zs *zs = pool->inflate;
  if (zs) {
    pool->inflate = zs->next;
    pool->ninflate--;
    zs->next = NULL;
    if (inflateReset2(&zs->z, -bits) == Z_OK) {
      zs->bits = bits;
      return zs;
    }
    zs_destroy(zs);
  }
  if (!(zs = zs_new())) return NULL;
  zs->bits = bits;
  if (inflateInit2(&zs->z, -bits) != Z_OK) {
    cnt_free(&zs->bytes, zs);
    return NULL;
  }
  return zs;
}

static void inflate_give(pmd_zs *zs) {
  pmd_pool *pool = pool_get();
  if (pool->ninflate >= PMD_POOL_IDLE_INFLATE) {
    zs_destroy(zs);
    return;
  }
  zs->next = pool->inflate;
  pool->inflate = zs;
  pool->ninflate++;
}

/* ---- negotiation ----------------------------------------------------------------------- */

#define STR_(x) #x
#define STR(x) STR_(x)
#define OFFER_BITS STR(PMD_OFFER_WINDOW_BITS)

static const char offer_takeover[] =
    "permessage-deflate; client_max_window_bits=" OFFER_BITS "; server_max_window_bits=" OFFER_BITS
    ", permessage-deflate; client_max_window_bits=" OFFER_BITS;
static const char offer_no_context[] =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
    "client_max_window_bits";

const char *pmd_offer(int mode) {
  switch (mode) {
  case PMD_CONTEXT_TAKEOVER: return offer_takeover;
  case PMD_NO_CONTEXT: return offer_no_context;
  default: return NULL;
  }
}

/* What pmd_offer(mode) asked for, as far as the answer is concerned. */
typedef struct offer_desc {
  bool server_nct;   /* server_no_context_takeover in every element: must be confirmed */
  bool client_nct;   /* client_no_context_takeover offered: we reset our context regardless */
  int client_bits;   /* client_max_window_bits: 0 not offered, 16 offered without a value,
                        else the value offered */
  int own_bits;      /* our window when the answer does not limit it */
} offer_desc;

static bool offer_for(int mode, offer_desc *o) {
  switch (mode) {
  case PMD_CONTEXT_TAKEOVER:
    *o = (offer_desc){false, false, PMD_OFFER_WINDOW_BITS, PMD_OFFER_WINDOW_BITS};
    return true;
  case PMD_NO_CONTEXT:
    *o = (offer_desc){true, true, 16, PMD_MAX_WINDOW_BITS};
    return true;
  default: return false;
  }
}

static int errf(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errsz, const char *fmt, ...) {
  if (err && errsz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A printable, bounded copy of server-supplied text for error messages. */
static const char *shown(char *dst, size_t dsz, const char *s, size_t n) {
  size_t max = dsz - 1, o = 0;
  bool cut = n > max;
  if (cut) n = max > 3 ? max - 3 : 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  if (cut)
    for (int k = 0; k < 3 && o < max; k++) dst[o++] = '.';
  dst[o] = 0;
  return dst;
}

static bool is_tchar(unsigned char ch) {
  return ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch);
}

static bool ieq(const char *s, size_t n, const char *lit) {
  size_t m = strlen(lit);
  if (n != m) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
    if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
    if (a != b) return false;
  }
  return true;
}

typedef struct scan {
  const char *s;
  size_t n, i;
} scan;

static void skip_ows(scan *sc) {
  while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t')) sc->i++;
}

static bool read_token(scan *sc, ws_str *tok) {
  size_t start = sc->i;
  while (sc->i < sc->n && is_tchar((unsigned char)sc->s[sc->i])) sc->i++;
  tok->ptr = sc->s + start;
  tok->len = sc->i - start;
  return tok->len > 0;
}

#define VAL_MAX 40 /* kept of a value: enough for window bits and an error message */

typedef struct pvalue {
  bool present;
  bool is_token; /* the (unescaped) value is a non-empty token, as RFC 6455 §9.1 requires */
  char buf[VAL_MAX];
  size_t len;    /* full unescaped length; buf holds min(len, VAL_MAX) bytes */
} pvalue;

static void value_put(pvalue *v, unsigned char ch) {
  if (v->len < VAL_MAX) v->buf[v->len] = (char)ch;
  v->len++;
  if (!is_tchar(ch)) v->is_token = false;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 §3.2.6), unescaped into v. */
static bool read_quoted(scan *sc, pvalue *v) {
  sc->i++; /* the opening quote */
  v->is_token = true;
  while (sc->i < sc->n) {
    unsigned char ch = (unsigned char)sc->s[sc->i++];
    if (ch == '"') {
      if (v->len == 0) v->is_token = false;
      return true;
    }
    if (ch == '\\') {
      if (sc->i == sc->n) return false;
      ch = (unsigned char)sc->s[sc->i++];
      if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) return false;
    } else if (ch != '\t' && (ch < 0x20 || ch == 0x7f)) {
      return false;
    }
    value_put(v, ch);
  }
  return false;
}

/* The parameters of the accepted element. 0 = absent for the window bits. */
typedef struct pmd_answer {
  bool server_nct, client_nct;
  int server_bits, client_bits;
} pmd_answer;

/* "8".."15": decimal, no leading zero. -1 otherwise. */
static int window_bits(const pvalue *v) {
  if (!v->is_token || v->len == 0 || v->len > 2 || v->buf[0] == '0') return -1;
  int bits = 0;
  for (size_t i = 0; i < v->len; i++) {
    if (v->buf[i] < '0' || v->buf[i] > '9') return -1;
    bits = bits * 10 + (v->buf[i] - '0');
  }
  return bits >= PMD_MIN_WINDOW_BITS && bits <= PMD_MAX_WINDOW_BITS ? bits : -1;
}

static int apply_param(pmd_answer *a, const ws_str *name, const pvalue *v, const offer_desc *o,
                       char *err, size_t errsz) {
  char nb[48], vb[48];
  bool *flag = NULL;
  int *bits = NULL;
  const char *canon;
  if (ieq(name->ptr, name->len, (canon = "server_no_context_takeover"))) {
    flag = &a->server_nct;
  } else if (ieq(name->ptr, name->len, (canon = "client_no_context_takeover"))) {
    flag = &a->client_nct;
  } else if (ieq(name->ptr, name->len, (canon = "server_max_window_bits"))) {
    bits = &a->server_bits;
  } else if (ieq(name->ptr, name->len, (canon = "client_max_window_bits"))) {
    bits = &a->client_bits;
  } else {
    return errf(err, errsz, "permessage-deflate: server answered with parameter \"%s\", which "
                "was not offered", shown(nb, sizeof nb, name->ptr, name->len));
  }
  if ((flag && *flag) || (bits && *bits))
    return errf(err, errsz, "permessage-deflate: duplicate parameter %s", canon);
  if (flag) {
    if (v->present)
      return errf(err, errsz, "permessage-deflate: %s takes no value (got \"%s\")", canon,
                  shown(vb, sizeof vb, v->buf, v->len < VAL_MAX ? v->len : VAL_MAX));
    *flag = true;
    return 0;
  }
  if (!v->present)
    return errf(err, errsz, "permessage-deflate: %s needs a value 8..15 in an answer", canon);
  int b = window_bits(v);
  if (b < 0)
    return errf(err, errsz, "permessage-deflate: invalid %s \"%s%s\" (must be 8..15)", canon,
                shown(vb, sizeof vb, v->buf, v->len < VAL_MAX ? v->len : VAL_MAX),
                v->len > VAL_MAX ? "..." : "");
  if (bits == &a->client_bits) {
    if (o->client_bits == 0)
      return errf(err, errsz, "permessage-deflate: server answered with client_max_window_bits, "
                  "which was not offered");
    if (o->client_bits <= PMD_MAX_WINDOW_BITS && b > o->client_bits)
      return errf(err, errsz, "permessage-deflate: client_max_window_bits=%d exceeds the %d "
                  "offered", b, o->client_bits);
  }
  *bits = b;
  return 0;
}

static int syntax_error(char *err, size_t errsz, const char *what, size_t at) {
  return errf(err, errsz, "malformed Sec-WebSocket-Extensions: %s at offset %zu", what, at);
}

int pmd_negotiate(int mode, const ws_str *values, size_t nvalues, pmd_params *out, char *err,
                  size_t errsz) {
  memset(out, 0, sizeof *out);
  if (err && errsz) err[0] = 0;
  offer_desc o = {0};
  if (mode != PMD_DISABLED && !offer_for(mode, &o))
    return errf(err, errsz, "invalid compression mode %d", mode);
  pmd_answer a = {0};
  size_t elements = 0;
  char nb[48];
  for (size_t k = 0; k < nvalues; k++) {
    scan sc = {values[k].ptr ? values[k].ptr : "", values[k].ptr ? values[k].len : 0, 0};
    for (;;) {
      skip_ows(&sc);
      if (sc.i == sc.n) break;
      if (sc.s[sc.i] == ',') { /* empty list element (RFC 7230 §7) */
        sc.i++;
        continue;
      }
      ws_str name;
      if (!read_token(&sc, &name))
        return syntax_error(err, errsz, "expected an extension name", sc.i);
      if (mode == PMD_DISABLED || !ieq(name.ptr, name.len, "permessage-deflate"))
        return errf(err, errsz, "server accepted extension \"%s\", which was not offered",
                    shown(nb, sizeof nb, name.ptr, name.len));
      if (++elements > 1)
        return errf(err, errsz, "server accepted permessage-deflate more than once");
      for (;;) {
        skip_ows(&sc);
        if (sc.i == sc.n || sc.s[sc.i] == ',') break;
        if (sc.s[sc.i] != ';') return syntax_error(err, errsz, "expected ';' or ','", sc.i);
        sc.i++;
        skip_ows(&sc);
        ws_str pname;
        if (!read_token(&sc, &pname))
          return syntax_error(err, errsz, "expected a parameter name", sc.i);
        skip_ows(&sc);
        pvalue v = {0};
        if (sc.i < sc.n && sc.s[sc.i] == '=') {
          sc.i++;
          skip_ows(&sc);
          v.present = true;
          if (sc.i < sc.n && sc.s[sc.i] == '"') {
            size_t at = sc.i;
            if (!read_quoted(&sc, &v))
              return syntax_error(err, errsz, "bad quoted string", at);
          } else {
            ws_str tv;
            if (!read_token(&sc, &tv))
              return syntax_error(err, errsz, "expected a parameter value", sc.i);
            v.is_token = true;
            for (size_t j = 0; j < tv.len; j++) value_put(&v, (unsigned char)tv.ptr[j]);
          }
        }
        if (apply_param(&a, &pname, &v, &o, err, errsz)) return -1;
      }
    }
  }
  if (elements == 0) return 0; /* declined: uncompressed */
  if (o.server_nct && !a.server_nct)
    return errf(err, errsz, "permessage-deflate: server did not confirm the requested "
                "server_no_context_takeover");
  out->enabled = true;
  out->server_no_context_takeover = a.server_nct;
  out->client_no_context_takeover = a.client_nct || o.client_nct;
  out->server_max_window_bits = (uint8_t)(a.server_bits ? a.server_bits : PMD_MAX_WINDOW_BITS);
  out->client_max_window_bits = (uint8_t)(a.client_bits ? a.client_bits : o.own_bits);
  return 0;
}

/* ---- codec ----------------------------------------------------------------------------- */

/* Errors are kept as static strings and formatted on demand, so a connection does not carry
 * a message buffer. */
enum { ERR_PLAIN, ERR_LIMIT, ERR_SINK };

struct pmd_conn {
  pmd_params p;
  size_t threshold;
  uint64_t read_limit;
  size_t bytes;        /* this struct and its windows */
  uint8_t *out_win;    /* takeover: the last ≤ 2^client_bits bytes sent compressed */
  uint8_t *in_win;     /* takeover: the server's window after the last message */
  uint32_t out_len, in_len;
  pmd_zs *inf;         /* lent from the first to the last piece of an incoming message */
  uint64_t produced;   /* inflated bytes of the current incoming message */
  bool got_data;       /* the current incoming message had payload bytes */
  bool after_final;    /* its data so far ends exactly at the end of a BFINAL block */
  uint8_t err_kind;    /* how pmd_error formats the failure: ERR_* */
  int err_code;        /* sticky failure of the incoming side */
  const char *err_what, *err_detail; /* static strings (err_detail: zlib's msg) or NULL */
};

static bool bits_ok(int b) { return b >= PMD_MIN_WINDOW_BITS && b <= PMD_MAX_WINDOW_BITS; }

pmd_conn *pmd_conn_new(const pmd_params *params, size_t threshold, uint64_t read_limit) {
  if (!params || !params->enabled || !bits_ok(params->server_max_window_bits) ||
      !bits_ok(params->client_max_window_bits))
    return NULL;
  size_t bytes = 0;
  pmd_conn *c = cnt_alloc(&bytes, sizeof *c);
  if (!c) return NULL;
  memset(c, 0, sizeof *c);
  c->bytes = bytes;
  c->p = *params;
  c->threshold = threshold;
  c->read_limit = read_limit;
  return c;
}

void pmd_conn_free(pmd_conn *c) {
  if (!c) return;
  if (c->inf) inflate_give(c->inf);
  cnt_free(&c->bytes, c->out_win);
  cnt_free(&c->bytes, c->in_win);
  cnt_free(&c->bytes, c);
}

const char *pmd_error(const pmd_conn *c) {
  static _Thread_local char buf[124]; /* a close reason is at most 123 bytes */
  if (!c->err_what) return "";
  int n = snprintf(buf, sizeof buf, "%s%s%s", c->err_what, c->err_detail ? ": " : "",
                   c->err_detail ? c->err_detail : "");
  size_t at = n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
  if (c->err_kind == ERR_LIMIT)
    snprintf(buf + at, sizeof buf - at, " (%llu bytes)", (unsigned long long)c->read_limit);
  else if (c->err_kind == ERR_SINK)
    snprintf(buf + at, sizeof buf - at, " (close code %d)", c->err_code);
  return buf;
}

bool pmd_in_message(const pmd_conn *c) { return c->inf != NULL; }

size_t pmd_conn_bytes(const pmd_conn *c) { return c->bytes + (c->inf ? c->inf->bytes : 0); }

/* Slides data into a window of capacity cap holding *len bytes. */
static void window_push(uint8_t *win, uint32_t *len, size_t cap, const uint8_t *data, size_t n) {
  if (n >= cap) {
    memcpy(win, data + n - cap, cap);
    *len = (uint32_t)cap;
    return;
  }
  size_t keep = *len < cap - n ? *len : cap - n;
  memmove(win, win + *len - keep, keep);
  memcpy(win + keep, data, n);
  *len = (uint32_t)(keep + n);
}

static int compress_fail(pmd_conn *c, const char *what) {
  c->err_kind = ERR_PLAIN;
  c->err_what = what;
  c->err_detail = NULL;
  return PMD_FAILED;
}

int pmd_compress(pmd_conn *c, const void *data, size_t len, wbuf *out) {
  if (len < c->threshold) return PMD_PLAIN;
  bool ctx = !c->p.client_no_context_takeover;
  size_t out_cap = (size_t)1 << c->p.client_max_window_bits;
  if (ctx && !c->out_win && !(c->out_win = cnt_alloc(&c->bytes, out_cap)))
    return compress_fail(c, "permessage-deflate: out of memory for the compression window");
  /* zlib has no raw 256-byte window; with 512 it never emits a distance above
   * 512 - MIN_LOOKAHEAD = 250, so its output still fits client_max_window_bits=8. */
  int zbits = c->p.client_max_window_bits < 9 ? 9 : c->p.client_max_window_bits;
  pmd_zs *zs = deflate_take(zbits);
  if (!zs) return compress_fail(c, "permessage-deflate: out of memory for a deflate stream");
  z_stream *z = &zs->z;
  if (ctx && c->out_len && deflateSetDictionary(z, c->out_win, (uInt)c->out_len) != Z_OK) {
    zs_destroy(zs);
    return compress_fail(c, "permessage-deflate: deflateSetDictionary failed");
  }
  size_t start = out->len;
  const uint8_t *in = data;
  size_t left = len;
  size_t step = deflateBound(z, len) + 16;
  if (step > 65536) step = 65536;
  z->avail_in = 0;
  for (;;) {
    if (z->avail_in == 0 && left) {
      uInt n = left > UINT_MAX ? UINT_MAX : (uInt)left;
      z->next_in = (Bytef *)in;
      z->avail_in = n;
      in += n;
      left -= n;
    }
    wbuf_reserve(out, step);
    size_t room = out->cap - out->len;
    if (room > UINT_MAX) room = UINT_MAX;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = (uInt)room;
    int rc = deflate(z, left ? Z_NO_FLUSH : Z_SYNC_FLUSH);
    out->len += room - z->avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out->len = start;
      zs_destroy(zs);
      return compress_fail(c, "permessage-deflate: deflate failed");
    }
    if (!left && !z->avail_in && z->avail_out) break; /* the sync flush is complete */
    if (step < ((size_t)1 << 24)) step *= 2;
  }
  deflate_give(zs);
  size_t total = out->len - start;
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  if (total < 4 || memcmp(out->data + out->len - 4, tail, 4) != 0) {
    out->len = start;
    return compress_fail(c, "permessage-deflate: deflate output does not end with a sync flush");
  }
  total -= 4;
  if (total >= len) { /* not worth it; and not part of the context since not sent compressed */
    out->len = start;
    return PMD_PLAIN;
  }
  out->len = start + total;
  if (ctx) window_push(c->out_win, &c->out_len, out_cap, data, len);
  return PMD_COMPRESSED;
}

static int in_fail(pmd_conn *c, int code, int kind, const char *what, const char *detail) {
  c->err_kind = (uint8_t)kind;
  c->err_what = what;
  c->err_detail = detail;
  c->err_code = code;
  if (c->inf) inflate_give(c->inf);
  c->inf = NULL;
  return code;
}

/* A BFINAL block ended inside a message (RFC 7692 §7.2.3.4): zlib stops there, but the bytes
 * that follow continue the same LZ77 history, so restart the stream with its own window. */
static int restart_after_final(pmd_conn *c) {
  z_stream *z = &c->inf->z;
  uInt have = 0;
  uint8_t *tmp = NULL;
  inflateGetDictionary(z, Z_NULL, &have);
  if (have) {
    if (!(tmp = cnt_alloc(&c->bytes, have)))
      return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: out of memory", NULL);
    inflateGetDictionary(z, tmp, &have);
  }
  int rc = inflateReset2(z, -c->inf->bits);
  if (rc == Z_OK && have) rc = inflateSetDictionary(z, tmp, have);
  cnt_free(&c->bytes, tmp);
  if (rc != Z_OK)
    return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: cannot restart inflate", NULL);
  return 0;
}

/* Inflates in[0..len) in bounded steps, handing the output to sink. trailer: these are the
 * 00 00 ff ff appended at the end of the message; *ended is set when a BFINAL block ends in
 * them. */
static int inflate_run(pmd_conn *c, const uint8_t *in, size_t len, bool trailer, bool *ended,
                       pmd_sink sink, void *ud) {
  uint8_t buf[PMD_OUT_CHUNK];
  while (len) {
    if (!trailer) c->after_final = false;
    z_stream *z = &c->inf->z;
    uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
    z->next_in = (Bytef *)in;
    z->avail_in = n;
    for (;;) {
      /* room ≤ what the limit still allows + 1: one byte too many proves the overflow */
      size_t room = PMD_OUT_CHUNK;
      if (c->read_limit && c->read_limit - c->produced < room)
        room = (size_t)(c->read_limit - c->produced) + 1;
      z->next_out = buf;
      z->avail_out = (uInt)room;
      int rc = inflate(z, Z_SYNC_FLUSH);
      size_t got = room - z->avail_out;
      if (got) {
        if (c->read_limit && got > c->read_limit - c->produced)
          return in_fail(c, 1009, ERR_LIMIT, "message inflates beyond read_limit", NULL);
        c->produced += got;
        int s = sink(ud, buf, got);
        if (s) return in_fail(c, s, ERR_SINK, "message rejected while inflating", NULL);
      }
      if (rc == Z_STREAM_END) {
        if (trailer) {
          *ended = true;
          return 0;
        }
        int r = restart_after_final(c);
        if (r) return r;
        if (z->avail_in == 0) {
          c->after_final = true;
          break;
        }
        continue;
      }
      if (rc == Z_MEM_ERROR)
        return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: out of memory", NULL);
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return in_fail(c, 1007, ERR_PLAIN, "invalid compressed data",
                       z->msg ? z->msg : "inflate error"); /* zlib's msg: a literal */
      if (z->avail_out) {
        if (z->avail_in)
          return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: inflate made no progress", NULL);
        break; /* all input used and no output pending */
      }
    }
    in += n;
    len -= n;
  }
  return 0;
}

int pmd_decompress(pmd_conn *c, const uint8_t *in, size_t len, bool fin, pmd_sink sink,
                   void *ud) {
  if (c->err_code) return c->err_code;
  if (!c->inf) {
    if (!(c->inf = inflate_take(c->p.server_max_window_bits)))
      return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: out of memory for an inflate stream",
                     NULL);
    c->produced = 0;
    c->got_data = false;
    c->after_final = false;
    if (c->in_len) {
      int rc = inflateSetDictionary(&c->inf->z, c->in_win, (uInt)c->in_len);
      if (rc != Z_OK)
        return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: cannot restore the window", NULL);
    }
  }
  bool ended = false;
  if (len) {
    c->got_data = true;
    int rc = inflate_run(c, in, len, false, &ended, sink, ud);
    if (rc) return rc;
  }
  if (!fin) return 0;
  /* An empty payload is taken as an empty message, and one ending exactly with a BFINAL block
   * needs no trailer; otherwise the appended empty stored block must end on a block boundary
   * (data_type bit 128: inflate stopped right before a block header). */
  if (c->got_data && !c->after_final) {
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    int rc = inflate_run(c, tail, sizeof tail, true, &ended, sink, ud);
    if (rc) return rc;
    if (!ended && !(c->inf->z.data_type & 128))
      return in_fail(c, 1007, ERR_PLAIN, "invalid compressed data",
                     "message ends inside a deflate block");
  }
  if (!c->p.server_no_context_takeover) {
    if (!c->in_win &&
        !(c->in_win = cnt_alloc(&c->bytes, (size_t)1 << c->p.server_max_window_bits)))
      return in_fail(c, 1011, ERR_PLAIN, "permessage-deflate: out of memory for the window", NULL);
    uInt have = 0;
    inflateGetDictionary(&c->inf->z, c->in_win, &have);
    c->in_len = have;
  }
  inflate_give(c->inf);
  c->inf = NULL;
  return 0;
}
