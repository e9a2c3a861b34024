/* stdlib/json.c — the `json` module: json.encode, json.decode, json.null (SPEC.md "json"), and
 * the Lua -> jansson conversion the logger uses (json.h).
 *
 * Decisions:
 *  - json.encode writes text straight from the Lua value (one pass, no jansson tree), compact,
 *    object keys sorted bytewise so equal tables give equal text. Floats use the shortest of
 *    %.15g/%.16g/%.17g that reads back to the same double and always carry a '.' or an
 *    exponent, so 1.0 encodes as 1.0 and decodes back as a float; integers print as integers.
 *    (jansson's own dumper would print 0.1 as 0.10000000000000001.)
 *  - json.decode accepts exactly what jansson accepts with JSON_DECODE_ANY (any value at the
 *    top) and JSON_ALLOW_NUL ("\u0000" in strings, since Lua strings hold any byte), and fails
 *    with jansson's message, line and column. A strict one-pass parser handles the input first
 *    and jansson re-parses whatever it does not accept (see "fast decoder"). Integers beyond
 *    64 bits and reals beyond double range are INVALID, as jansson reports them.
 *  - null: at the top it decodes to nil, as an object member the key is absent, and as an
 *    array element it decodes to json.null. Arrays keep their positions that way, `#t` stays
 *    the element count, and decode-then-encode reproduces the array instead of failing on a
 *    sparse table. json.null is light userdata NULL: equal in every actor and comparable with
 *    `==`.
 *  - An empty table encodes as [] (so {} decodes to a table that re-encodes as []).
 *  - Metatables are ignored: tables are read raw.
 *  - Scratch memory (output text, key lists) comes from the state's allocator, so it counts
 *    against the actor's memory limit, and lives in a to-be-closed userdata ("box") that frees
 *    it on every exit, including Lua errors. The walk itself never raises. */
#include "core/utf8_scan.h"
#include "stdlib/json.h"
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stdlib/errors.h"

#define BOX_MT "wisp.json.box"

typedef struct jkey {
  const char *s;
  size_t len;
  int sidx; /* stack slot holding the key string (keeps s alive and feeds lua_rawget) */
} jkey;

typedef struct jbox {
  lua_Alloc alloc;
  void *ud;
  char *out;
  size_t len, cap;
  jkey *keys;
  size_t nkeys, kcap;
  json_t *root;
} jbox;

/* ---- box ---- */

static int box_close(lua_State *L) {
  jbox *b = lua_touserdata(L, 1);
  if (b->out) b->alloc(b->ud, b->out, b->cap, 0);
  if (b->keys) b->alloc(b->ud, b->keys, b->kcap * sizeof(jkey), 0);
  b->out = NULL;
  b->keys = NULL;
  b->len = b->cap = b->nkeys = b->kcap = 0;
  json_decref(b->root);
  b->root = NULL;
  return 0;
}

/* Pushes a to-be-closed box. */
static jbox *box_push(lua_State *L) {
  jbox *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  b->alloc = lua_getallocf(L, &b->ud);
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, box_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);
  return b;
}

static bool box_grow(jbox *b, void **p, size_t *cap, size_t elem, size_t need, size_t first) {
  size_t ncap = *cap ? *cap : first;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 4 / elem) return false;
    ncap *= 2;
  }
  void *np = b->alloc(b->ud, *p, *cap * elem, ncap * elem);
  if (!np) return false;
  *p = np;
  *cap = ncap;
  return true;
}

/* ---- encoder ---- */

typedef struct jstep {
  bool is_key;
  lua_Integer index; /* array index, or index into box->keys */
} jstep;

typedef struct jenc {
  lua_State *L;
  jbox *b;
  int flags;
  bool tree;  /* build jansson values instead of text */
  bool oom;
  int depth;  /* open tables on the current path */
  const void *open[WJSON_MAX_DEPTH];
  jstep path[WJSON_MAX_DEPTH];
  char err[256];
} jenc;

static bool is_ident(const char *s, size_t n) {
  if (n == 0 || !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))) return false;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
      return false;
  }
  return true;
}

/* Bounded append into e->err. */
static void err_add(jenc *e, size_t *at, const char *s, size_t n) {
  size_t room = sizeof e->err - 1 - *at;
  if (n > room) n = room;
  memcpy(e->err + *at, s, n);
  *at += n;
  e->err[*at] = '\0';
}

/* Formats "<what> at <path>" into e->err; returns false for the caller to propagate. */
static bool enc_fail(jenc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool enc_fail(jenc *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(e->err, sizeof e->err, fmt, ap);
  va_end(ap);
  size_t at = n < 0 ? 0 : (size_t)n >= sizeof e->err ? sizeof e->err - 1 : (size_t)n;
  if (e->depth > 0 && !e->oom) err_add(e, &at, " at ", 4);
  for (int i = 0; i < e->depth && !e->oom; i++) {
    const jstep *st = &e->path[i];
    char num[32];
    if (!st->is_key) {
      int k = snprintf(num, sizeof num, "[%lld]", (long long)st->index);
      err_add(e, &at, num, (size_t)k);
      continue;
    }
    const jkey *k = &e->b->keys[st->index];
    if (is_ident(k->s, k->len)) {
      if (i > 0) err_add(e, &at, ".", 1);
      err_add(e, &at, k->s, k->len);
    } else {
      err_add(e, &at, "[\"", 2);
      for (size_t j = 0; j < k->len && j < 40; j++) {
        char c = k->s[j];
        err_add(e, &at, (c >= 0x20 && c < 0x7f && c != '"') ? &c : "?", 1);
      }
      err_add(e, &at, k->len > 40 ? "...\"]" : "\"]", k->len > 40 ? 5 : 2);
    }
  }
  return false;
}

static bool enc_oom(jenc *e) {
  e->oom = true;
  snprintf(e->err, sizeof e->err, "not enough memory");
  return false;
}

static bool out_grow(jenc *e, size_t n) {
  jbox *b = e->b;
  if (n > SIZE_MAX - b->len || !box_grow(b, (void **)&b->out, &b->cap, 1, b->len + n, 256))
    return enc_oom(e);
  return true;
}

static inline bool out_reserve(jenc *e, size_t n) {
  return e->b->cap - e->b->len >= n || out_grow(e, n);
}

static inline bool out_write(jenc *e, const void *p, size_t n) {
  if (!out_reserve(e, n)) return false;
  memcpy(e->b->out + e->b->len, p, n);
  e->b->len += n;
  return true;
}

static inline bool out_putc(jenc *e, char c) {
  if (!out_reserve(e, 1)) return false;
  e->b->out[e->b->len++] = c;
  return true;
}


static bool utf8_ok(const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t l = utf8_scan_seq(p + i, n - i);
    if (!l) return false;
    i += l;
  }
  return true;
}

/* Writes s as a JSON string; false with e->err set on invalid UTF-8. */
static bool out_string(jenc *e, const char *s, size_t n, const char *what) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)s;
  if (!out_reserve(e, n + 2)) return false;
  e->b->out[e->b->len++] = '"';
  size_t run = 0, i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t l = utf8_scan_seq(p + i, n - i);
      if (!l) return enc_fail(e, "cannot encode invalid UTF-8 %s", what);
      i += l;
      continue;
    }
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t el = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        el = 6;
    }
    if (!out_write(e, s + run, i - run) || !out_write(e, esc, el)) return false;
    run = ++i;
  }
  return out_write(e, s + run, n - run) && out_putc(e, '"');
}

static size_t fmt_integer(char *buf, lua_Integer v) {
  char tmp[24];
  size_t n = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t len = 0;
  if (v < 0) buf[len++] = '-';
  while (n) buf[len++] = tmp[--n];
  return len;
}

/* Shortest round-tripping text of a finite double, always with '.' or an exponent. */
static size_t fmt_double(char *buf, size_t cap, double d) {
  if (fabs(d) < 1e15 && d == (double)(int64_t)d) { /* integral: exact, and the common case */
    size_t n = fmt_integer(buf, (lua_Integer)d);
    if (n == 1 && buf[0] == '0' && signbit(d)) {
      memcpy(buf, "-0", 2);
      n = 2;
    }
    memcpy(buf + n, ".0", 3);
    return n + 2;
  }
  /* Few decimals (prices, ratios): the shortest k with m / 10^k == d for an integer m gives
   * the text m with k decimals. m and 10^k are exact doubles and IEEE division rounds
   * correctly, so strtod of that text yields d again. */
  static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
  double ad = fabs(d);
  if (ad >= 1e-4 && ad < 1e9) {
    for (int k = 1; k <= 6; k++) {
      double m = nearbyint(ad * p10[k]);
      if (m / p10[k] != ad) continue;
      char digits[24];
      size_t nd = fmt_integer(digits, (lua_Integer)m), n = 0;
      if (d < 0) buf[n++] = '-';
      if (nd <= (size_t)k) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (size_t z = nd; z < (size_t)k; z++) buf[n++] = '0';
        memcpy(buf + n, digits, nd);
        n += nd;
      } else {
        memcpy(buf + n, digits, nd - (size_t)k);
        n += nd - (size_t)k;
        buf[n++] = '.';
        memcpy(buf + n, digits + nd - k, (size_t)k);
        n += (size_t)k;
      }
      buf[n] = '\0';
      return n;
    }
  }
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, cap, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) break;
  }
  bool real = false;
  for (int i = 0; i < n; i++) {
    if (buf[i] == ',') buf[i] = '.'; /* a locale with a decimal comma */
    if (buf[i] == '.' || buf[i] == 'e') real = true;
  }
  if (!real && (size_t)n + 2 < cap) {
    buf[n++] = '.';
    buf[n++] = '0';
    buf[n] = '\0';
  }
  return (size_t)n;
}

static bool enc_value(jenc *e, int idx, json_t **out);

static int key_cmp(const void *a, const void *b) {
  const jkey *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Insertion sort for the usual handful of keys, qsort beyond. */
static void sort_keys(jkey *k, size_t n) {
  if (n > 16) {
    qsort(k, n, sizeof *k, key_cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    jkey x = k[i];
    size_t j = i;
    for (; j > 0 && key_cmp(&k[j - 1], &x) > 0; j--) k[j] = k[j - 1];
    k[j] = x;
  }
}

/* Value at the top is encoded as element `st` of the current container, then popped. */
static bool enc_child(jenc *e, jstep st, json_t **out) {
  e->path[e->depth - 1] = st;
  bool ok = enc_value(e, lua_gettop(e->L), out);
  lua_pop(e->L, 1);
  return ok;
}

static bool enc_table(jenc *e, int idx, json_t **out) {
  lua_State *L = e->L;
  jbox *b = e->b;
  const void *self = lua_topointer(L, idx);
  for (int i = 0; i < e->depth; i++)
    if (e->open[i] == self) return enc_fail(e, "cannot encode a cycle (table contains itself)");
  if (e->depth == WJSON_MAX_DEPTH)
    return enc_fail(e, "cannot encode tables nested deeper than %d levels", WJSON_MAX_DEPTH);
  if (!lua_checkstack(L, 4)) return enc_oom(e);

  /* Classify the keys; string keys are kept on the stack (and listed in box->keys). */
  int top = lua_gettop(L);
  size_t kbase = b->nkeys;
  lua_Integer nint = 0, minint = LUA_MAXINTEGER, maxint = 0;
  const char *bad = NULL;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int kt = lua_type(L, -1);
    if (kt == LUA_TSTRING) {
      if (!lua_checkstack(L, 3) ||
          (b->nkeys == b->kcap &&
           !box_grow(b, (void **)&b->keys, &b->kcap, sizeof(jkey), b->nkeys + 1, 16))) {
        lua_settop(L, top);
        b->nkeys = kbase;
        return enc_oom(e);
      }
      jkey *k = &b->keys[b->nkeys++];
      k->s = lua_tolstring(L, -1, &k->len);
      k->sidx = lua_gettop(L);
      lua_pushvalue(L, -1);
    } else if (kt == LUA_TNUMBER && lua_isinteger(L, -1)) {
      lua_Integer k = lua_tointeger(L, -1);
      nint++;
      if (k < minint) minint = k;
      if (k > maxint) maxint = k;
    } else {
      bad = kt == LUA_TNUMBER ? "float" : lua_typename(L, kt);
      lua_pop(L, 1);
      break;
    }
  }
  size_t nstr = b->nkeys - kbase;
  bool ok;
  if (bad) {
    ok = enc_fail(e, "cannot encode a table with a %s key", bad);
  } else if (nint && nstr) {
    ok = enc_fail(e, "cannot encode a mixed table (both integer and string keys)");
  } else if (nint && (minint != 1 || maxint != nint)) {
    ok = enc_fail(e, "cannot encode a sparse array (integer keys are not 1..n)");
  } else {
    e->open[e->depth++] = self;
    if (nstr == 0) { /* array, or the empty table */
      json_t *arr = NULL;
      ok = e->tree ? (arr = json_array()) != NULL || enc_oom(e) : out_putc(e, '[');
      for (lua_Integer i = 1; ok && i <= nint; i++) {
        json_t *v = NULL;
        lua_rawgeti(L, idx, i);
        ok = (e->tree || i == 1 || out_putc(e, ',')) && enc_child(e, (jstep){false, i}, &v);
        if (ok && e->tree && json_array_append_new(arr, v)) ok = enc_oom(e);
      }
      if (e->tree) {
        if (ok) *out = arr;
        else json_decref(arr);
      } else if (ok) {
        ok = out_putc(e, ']');
      }
    } else {
      sort_keys(b->keys + kbase, nstr);
      json_t *obj = NULL;
      ok = e->tree ? (obj = json_object()) != NULL || enc_oom(e) : out_putc(e, '{');
      for (size_t i = 0; ok && i < nstr; i++) {
        const jkey *k = &b->keys[kbase + i];
        const char *ks = k->s;
        size_t kl = k->len;
        e->path[e->depth - 1] = (jstep){true, (lua_Integer)(kbase + i)}; /* names a bad key */
        if (e->tree) {
          if (!(e->flags & WJSON_LENIENT) && !utf8_ok(ks, kl)) {
            ok = enc_fail(e, "cannot encode invalid UTF-8 in an object key");
            break;
          }
        } else if (!(i == 0 || out_putc(e, ',')) || !out_string(e, ks, kl, "in an object key") ||
                   !out_putc(e, ':')) {
          ok = false;
          break;
        }
        json_t *v = NULL;
        lua_pushvalue(L, k->sidx);
        lua_rawget(L, idx);
        ok = enc_child(e, (jstep){true, (lua_Integer)(kbase + i)}, &v);
        if (ok && e->tree && json_object_setn_new_nocheck(obj, ks, kl, v)) ok = enc_oom(e);
      }
      if (e->tree) {
        if (ok) *out = obj;
        else json_decref(obj);
      } else if (ok) {
        ok = out_putc(e, '}');
      }
    }
    if (ok) e->depth--; /* on failure the path stays for the message */
  }
  if (ok) {
    lua_settop(L, top);
    b->nkeys = kbase;
  }
  return ok;
}

static bool enc_number(jenc *e, int idx, json_t **out) {
  lua_State *L = e->L;
  char buf[40];
  size_t n;
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (e->tree) return (*out = json_integer(v)) != NULL || enc_oom(e);
    n = fmt_integer(buf, v);
    return out_write(e, buf, n);
  }
  double d = lua_tonumber(L, idx);
  if (!isfinite(d)) {
    const char *name = isnan(d) ? "NaN" : d > 0 ? "Inf" : "-Inf";
    if (e->tree && (e->flags & WJSON_LENIENT))
      return (*out = json_string(name)) != NULL || enc_oom(e);
    return enc_fail(e, "cannot encode %s", name);
  }
  if (e->tree) return (*out = json_real(d)) != NULL || enc_oom(e);
  n = fmt_double(buf, sizeof buf, d);
  return out_write(e, buf, n);
}

static bool enc_string(jenc *e, const char *s, size_t n, json_t **out) {
  if (!e->tree) return out_string(e, s, n, "in a string");
  if (!(e->flags & WJSON_LENIENT) && !utf8_ok(s, n))
    return enc_fail(e, "cannot encode invalid UTF-8 in a string");
  return (*out = json_stringn_nocheck(s, n)) != NULL || enc_oom(e);
}

static bool enc_null(jenc *e, json_t **out) {
  if (e->tree) return (*out = json_null()) != NULL;
  return out_write(e, "null", 4);
}

static bool enc_value(jenc *e, int idx, json_t **out) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return enc_null(e, out);
    case LUA_TBOOLEAN: {
      bool v = lua_toboolean(L, idx);
      if (e->tree) return (*out = json_boolean(v)) != NULL;
      return v ? out_write(e, "true", 4) : out_write(e, "false", 5);
    }
    case LUA_TNUMBER:
      return enc_number(e, idx, out);
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return enc_string(e, s, n, out);
    }
    case LUA_TTABLE:
      return enc_table(e, idx, out);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) return enc_null(e, out);
      return enc_fail(e, "cannot encode a light userdata");
    case LUA_TUSERDATA:
      if ((e->flags & WJSON_ERR_MESSAGE) && werr_is(L, idx)) {
        const char *m = werr_message(L, idx);
        return enc_string(e, m, strlen(m), out);
      }
      if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
        enc_fail(e, "cannot encode a userdata (%s)", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
      }
      return enc_fail(e, "cannot encode a userdata");
    default:
      return enc_fail(e, "cannot encode a %s", luaL_typename(L, idx));
  }
}

static void enc_init(jenc *e, lua_State *L, jbox *b, int flags, bool tree) {
  e->L = L;
  e->b = b;
  e->flags = flags;
  e->tree = tree;
  e->oom = false;
  e->depth = 0;
  e->err[0] = '\0';
}

json_t *wjson_from_lua(lua_State *L, int idx, int flags) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "json");
  jbox *b = box_push(L);
  int btop = lua_gettop(L);
  jenc e;
  enc_init(&e, L, b, flags, true);
  json_t *v = NULL;
  bool ok = enc_value(&e, idx, &v);
  lua_settop(L, btop); /* a failed walk leaves its keys on the stack */
  lua_closeslot(L, -1);
  lua_pop(L, 1);
  if (!ok) {
    lua_pushstring(L, e.err);
    return NULL;
  }
  return v;
}

static int l_encode(lua_State *L) {
  if (lua_gettop(L) < 1) return luaL_error(L, "bad argument #1 to 'json.encode' (value expected)");
  lua_settop(L, 1);
  jbox *b = box_push(L);
  jenc e;
  enc_init(&e, L, b, 0, false);
  if (!enc_value(&e, 1, NULL)) {
    lua_settop(L, 2);
    if (e.oom) return werr_fail(L, WERR_INTERNAL, false, "json.encode: %s", e.err);
    return werr_fail(L, WERR_INVALID, false, "%s", e.err);
  }
  lua_pushlstring(L, b->out, b->len);
  return 1;
}

/* ---- decoder ---- */

static bool push_value(lua_State *L, json_t *v, int depth) {
  if (!lua_checkstack(L, 3)) return false;
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      if (depth >= WJSON_MAX_DEPTH) return false;
      size_t n = json_object_size(v);
      lua_createtable(L, 0, n > INT32_MAX ? INT32_MAX : (int)n);
      for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
        json_t *m = json_object_iter_value(it);
        if (json_is_null(m)) continue;
        lua_pushlstring(L, json_object_iter_key(it), json_object_iter_key_len(it));
        if (!push_value(L, m, depth + 1)) return false;
        lua_rawset(L, -3);
      }
      return true;
    }
    case JSON_ARRAY: {
      if (depth >= WJSON_MAX_DEPTH) return false;
      size_t n = json_array_size(v);
      lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
      for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i);
        if (json_is_null(m)) lua_pushlightuserdata(L, NULL);
        else if (!push_value(L, m, depth + 1)) return false;
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      return true;
    }
    case JSON_STRING:
      lua_pushlstring(L, json_string_value(v), json_string_length(v));
      return true;
    case JSON_INTEGER:
      lua_pushinteger(L, (lua_Integer)json_integer_value(v));
      return true;
    case JSON_REAL:
      lua_pushnumber(L, json_real_value(v));
      return true;
    case JSON_TRUE:
    case JSON_FALSE:
      lua_pushboolean(L, json_is_true(v));
      return true;
    case JSON_NULL:
    default:
      lua_pushnil(L);
      return true;
  }
}

int wjson_push(lua_State *L, const json_t *v) {
  int top = lua_gettop(L);
  if (!push_value(L, (json_t *)v, 0)) {
    lua_settop(L, top);
    return 0;
  }
  return 1;
}

/* ---- fast decoder ----
 * A strict RFC 8259 parser that builds Lua values in one pass. It accepts a subset of what
 * jansson accepts (JSON_DECODE_ANY | JSON_ALLOW_NUL) and yields the same values; on anything
 * else (syntax errors, integers beyond 64 bits, reals beyond double range or written with more
 * than 63 characters, "\u0000" in a key, nesting deeper than WJSON_MAX_DEPTH, a locale whose
 * strtod disagrees) it gives up without a message and jansson parses the input again, so
 * jansson alone decides what is an error and how it is reported. fuzz_json checks that both
 * paths agree. jansson's tree (a malloc per value, a hash table per object) made decoding a
 * 1 KiB message several times slower. */

typedef struct jdec {
  lua_State *L;
  const char *p, *end;
  int depth;
} jdec;

static inline void dec_ws(jdec *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
    d->p++;
}

static bool dec_hex4(const uint8_t *p, const uint8_t *end, unsigned *out) {
  if (end - p < 4) return false;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t c = p[i];
    unsigned h = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                        : 16u;
    if (h == 16) return false;
    v = v << 4 | h;
  }
  *out = v;
  return true;
}

static size_t utf8_put(char *u, unsigned cp) {
  if (cp < 0x80) {
    u[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    u[0] = (char)(0xC0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = (char)(0xE0 | cp >> 12);
    u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  u[0] = (char)(0xF0 | cp >> 18);
  u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  u[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Scans plain string bytes (no quote, backslash or control character; well-formed UTF-8) from
 * p; returns where they stop, or NULL on a control character or ill-formed UTF-8. */
static const uint8_t *dec_plain(const uint8_t *p, const uint8_t *end) {
  while (p < end) {
    uint8_t c = *p;
    if (c == '"' || c == '\\') return p;
    if (c < 0x20) return NULL;
    if (c < 0x80) {
      p++;
      continue;
    }
    size_t l = utf8_scan_seq(p, (size_t)(end - p));
    if (!l) return NULL;
    p += l;
  }
  return p;
}

/* At the opening quote: pushes the string. Escapes are resolved through a luaL_Buffer, whose
 * operations are never interleaved with other pushes. */
static bool dec_string(jdec *d, bool key) {
  const uint8_t *s = (const uint8_t *)d->p + 1, *end = (const uint8_t *)d->end;
  const uint8_t *p = dec_plain(s, end);
  if (!p || p == end) return false;
  if (*p == '"') {
    lua_pushlstring(d->L, (const char *)s, (size_t)(p - s));
    d->p = (const char *)p + 1;
    return true;
  }
  luaL_Buffer b;
  luaL_buffinit(d->L, &b);
  luaL_addlstring(&b, (const char *)s, (size_t)(p - s));
  for (;;) {
    if (p == end) return false;
    if (*p == '"') break;
    if (*p != '\\') {
      const uint8_t *run = p;
      if (!(p = dec_plain(p, end))) return false;
      luaL_addlstring(&b, (const char *)run, (size_t)(p - run));
      continue;
    }
    if (end - p < 2) return false;
    uint8_t e = p[1];
    p += 2;
    switch (e) {
      case '"': case '\\': case '/': luaL_addchar(&b, (char)e); break;
      case 'b': luaL_addchar(&b, '\b'); break;
      case 'f': luaL_addchar(&b, '\f'); break;
      case 'n': luaL_addchar(&b, '\n'); break;
      case 'r': luaL_addchar(&b, '\r'); break;
      case 't': luaL_addchar(&b, '\t'); break;
      case 'u': {
        unsigned cp, lo;
        if (!dec_hex4(p, end, &cp)) return false;
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !dec_hex4(p + 2, end, &lo) ||
              lo < 0xDC00 || lo > 0xDFFF)
            return false;
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return false;
        } else if (cp == 0 && key) {
          return false;
        }
        char u[4];
        luaL_addlstring(&b, u, utf8_put(u, cp));
        break;
      }
      default:
        return false;
    }
  }
  luaL_pushresult(&b);
  d->p = (const char *)p + 1;
  return true;
}

static bool dec_number(jdec *d) {
  const char *p = d->p, *end = d->end, *start = p;
  bool neg = *p == '-', real = false;
  if (neg) p++;
  if (p == end) return false;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9') p++;
  } else {
    return false;
  }
  const char *int_end = p;
  if (p < end && *p == '.') {
    real = true;
    if (++p == end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = true;
    if (++p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (!real) {
    uint64_t u = 0;
    for (const char *q = start + neg; q < int_end; q++) {
      unsigned dg = (unsigned)(*q - '0');
      if (u > (UINT64_MAX - dg) / 10) return false;
      u = u * 10 + dg;
    }
    if (u > (uint64_t)LUA_MAXINTEGER + neg) return false;
    lua_pushinteger(d->L, neg ? (lua_Integer)(0 - u) : (lua_Integer)u);
  } else {
    char buf[64], *stop;
    size_t n = (size_t)(p - start);
    if (n >= sizeof buf) return false;
    memcpy(buf, start, n);
    buf[n] = '\0';
    double v = strtod(buf, &stop);
    if (stop != buf + n || isinf(v)) return false;
    lua_pushnumber(d->L, v);
  }
  d->p = p;
  return true;
}

static bool dec_literal(jdec *d, const char *word, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) return false;
  d->p += n;
  return true;
}

static bool dec_value(jdec *d);

static bool dec_array(jdec *d) {
  lua_State *L = d->L;
  if (d->depth >= WJSON_MAX_DEPTH) return false;
  d->depth++;
  d->p++;
  lua_newtable(L);
  dec_ws(d);
  if (d->p < d->end && *d->p == ']') {
    d->p++;
  } else {
    for (lua_Integer i = 1;; i++) {
      if (!dec_value(d)) return false;
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlightuserdata(L, NULL); /* json.null keeps the position */
      }
      lua_rawseti(L, -2, i);
      dec_ws(d);
      if (d->p == d->end) return false;
      char c = *d->p++;
      if (c == ']') break;
      if (c != ',') return false;
    }
  }
  d->depth--;
  return true;
}

static bool dec_object(jdec *d) {
  lua_State *L = d->L;
  if (d->depth >= WJSON_MAX_DEPTH) return false;
  d->depth++;
  d->p++;
  lua_newtable(L);
  dec_ws(d);
  if (d->p < d->end && *d->p == '}') {
    d->p++;
  } else {
    for (;;) {
      dec_ws(d);
      if (d->p == d->end || *d->p != '"' || !dec_string(d, true)) return false;
      dec_ws(d);
      if (d->p == d->end || *d->p != ':') return false;
      d->p++;
      if (!dec_value(d)) return false;
      lua_rawset(L, -3); /* null (nil) also removes an earlier duplicate: the last one wins */
      dec_ws(d);
      if (d->p == d->end) return false;
      char c = *d->p++;
      if (c == '}') break;
      if (c != ',') return false;
    }
  }
  d->depth--;
  return true;
}

static bool dec_value(jdec *d) {
  if (!lua_checkstack(d->L, 4)) return false;
  dec_ws(d);
  if (d->p == d->end) return false;
  switch (*d->p) {
    case '{':
      return dec_object(d);
    case '[':
      return dec_array(d);
    case '"':
      return dec_string(d, false);
    case 't':
      if (!dec_literal(d, "true", 4)) return false;
      lua_pushboolean(d->L, 1);
      return true;
    case 'f':
      if (!dec_literal(d, "false", 5)) return false;
      lua_pushboolean(d->L, 0);
      return true;
    case 'n':
      if (!dec_literal(d, "null", 4)) return false;
      lua_pushnil(d->L);
      return true;
    default:
      return dec_number(d);
  }
}

static int l_decode(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_error(L, "bad argument #1 to 'json.decode' (string expected, got %s)",
                      luaL_typename(L, 1));
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  lua_settop(L, 1);
  jdec d = {L, s, s + n, 0};
  if (dec_value(&d)) {
    dec_ws(&d);
    if (d.p == d.end) return 1;
  }
  lua_settop(L, 1);
  jbox *b = box_push(L);
  json_error_t jerr;
  b->root = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!b->root)
    return werr_fail(L, WERR_INVALID, false, "invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
  if (!wjson_push(L, b->root))
    return werr_fail(L, WERR_INVALID, false, "invalid JSON: nested deeper than %d levels",
                     WJSON_MAX_DEPTH);
  return 1;
}

int luaopen_wisp_json(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"encode", l_encode}, {"decode", l_decode}, {"null", NULL}, {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
