/* core/codec.c — the value codec (format and rules in codec.h).
 * Encode walks the value depth-first on the sender's Lua stack; the tables and registered values
 * open on the current path are kept in a fixed array for cycle detection, and the path to the
 * current value as stack references, turned into text only when an error is reported. Decode is
 * a bounded recursive descent that checks every length against the bytes left.
 * Hooks run under lua_pcall through a trampoline, so the thread-local links that let nested
 * encode/decode calls from hooks share depth, cycle and path state are always restored. */
#include "core/codec.h"
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(lua_Number) == 8, "the codec writes floats as IEEE-754 binary64");
_Static_assert(sizeof(lua_Integer) == 8, "the codec writes 64-bit integers");

enum {
  WC_NIL = 0x00,
  WC_FALSE = 0x01,
  WC_TRUE = 0x02,
  WC_INT = 0x03,
  WC_FLOAT = 0x04,
  WC_STR = 0x05,
  WC_TABLE = 0x06,
  WC_CUSTOM = 0x07,
  WC_NULLPTR = 0x08, /* light userdata NULL: json.null, the one light userdata that crosses */
  WC_SHORTSTR = 0x40, /* 0x40..0x7f: string of tag - 0x40 bytes */
  WC_SMALLINT = 0x80, /* 0x80..0xff: integer tag - 0x80 */
};
#define WC_SHORTSTR_MAX 63
#define WC_VARINT_MAX 10

/* ---- registered types ---- */

typedef struct wc_type {
  const char *name;
  wcodec_enc_fn enc;
  wcodec_dec_fn dec;
  uint8_t id;
} wc_type;

static wc_type wc_types[WCODEC_MAX_TYPES];
static int wc_ntypes;
static uint8_t wc_slot_by_id[256]; /* index into wc_types + 1; 0 = not registered */

void wcodec_register_type(uint8_t type_id, const char *metatable_name, wcodec_enc_fn enc,
                          wcodec_dec_fn dec) {
  if (!metatable_name || !enc || !dec) {
    fputs("wisp: wcodec_register_type: NULL argument\n", stderr);
    abort();
  }
  int slot = wc_slot_by_id[type_id] - 1;
  if (slot < 0) {
    if (wc_ntypes == WCODEC_MAX_TYPES) {
      fprintf(stderr, "wisp: wcodec_register_type: more than %d types\n", WCODEC_MAX_TYPES);
      abort();
    }
    slot = wc_ntypes++;
    wc_slot_by_id[type_id] = (uint8_t)(slot + 1);
  }
  wc_types[slot] = (wc_type){metatable_name, enc, dec, type_id};
}

/* ---- varints ---- */

static int wc_put_varint(uint8_t *w, uint64_t v) {
  int n = 0;
  while (v >= 0x80) {
    w[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  w[n++] = (uint8_t)v;
  return n;
}

static void wc_out_varint(wbuf *o, uint64_t v) {
  wbuf_reserve(o, WC_VARINT_MAX);
  o->len += (size_t)wc_put_varint((uint8_t *)o->data + o->len, v);
}

/* ================================ encode ================================ */

#define WC_PATH_MAX 200
#define WC_MSG_MAX 160

enum { COMP_ROOT, COMP_INDEX, COMP_KEY, COMP_KEYOBJ };

typedef struct enc_comp {
  int kind;      /* COMP_* */
  int key_idx;   /* COMP_KEY: absolute stack index of the key */
  lua_Integer i; /* COMP_ROOT: position in the record; COMP_INDEX: array index */
} enc_comp;

/* The error of an encode and of every call nested in its hooks; the innermost failure writes it,
 * each enclosing level prepends its part of the path. */
typedef struct enc_err {
  bool set;
  char msg[WC_MSG_MAX];
  char path[WC_PATH_MAX];
} enc_err;

typedef struct enc_ctx {
  lua_State *L;
  wbuf *out;
  const struct enc_ctx *parent; /* the call whose hook made this one, or NULL */
  enc_err *rec;
  int depth; /* open tables and registered values, counting enclosing calls */
  int nopen;
  const void *open[WCODEC_MAX_DEPTH];
  int ncomp;
  enc_comp comp[WCODEC_MAX_DEPTH + 2];
} enc_ctx;

/* The call whose enc hook is running on this thread; set only around the hook's lua_pcall. */
static _Thread_local const enc_ctx *wc_tl_enc;

/* Bounded string builder: keeps the first cap-1 bytes and ends a cut string with "...". */
typedef struct sbuf {
  char *s;
  size_t len, cap;
  bool cut;
} sbuf;

static void sb_add(sbuf *b, const char *p, size_t n) {
  if (b->cut) return;
  size_t room = b->cap - 1 - b->len;
  if (n > room) {
    n = room;
    b->cut = true;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
  if (b->cut && b->len >= 3) memcpy(b->s + b->len - 3, "...", 3);
}

static void sb_str(sbuf *b, const char *p) { sb_add(b, p, strlen(p)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static bool wc_is_identifier(const char *s, size_t n) {
  static const char *const keywords[] = {
      "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
      "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"};
  if (n == 0 || n > 40) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strlen(keywords[i]) == n && memcmp(keywords[i], s, n) == 0) return false;
  return true;
}

/* Appends one path component: name, .name, [3], ["a b"], [1.5], [true], [<table>]. */
static void enc_path_comp(const enc_ctx *c, const enc_comp *k, sbuf *b) {
  lua_State *L = c->L;
  switch (k->kind) {
  case COMP_ROOT: sb_printf(b, "#%lld", (long long)k->i); return;
  case COMP_INDEX: sb_printf(b, "[%lld]", (long long)k->i); return;
  case COMP_KEYOBJ: sb_str(b, "[<key>]"); return;
  default: break;
  }
  int ki = k->key_idx;
  switch (lua_type(L, ki)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, ki, &n);
    if (wc_is_identifier(s, n)) {
      if (b->len > 0) sb_str(b, ".");
      sb_add(b, s, n);
      return;
    }
    sb_str(b, "[\"");
    size_t shown = n > 32 ? 32 : n;
    for (size_t i = 0; i < shown; i++) {
      unsigned char ch = (unsigned char)s[i];
      if (ch < 0x20 || ch >= 0x7f) sb_printf(b, "\\x%02x", ch);
      else if (ch == '"' || ch == '\\') sb_printf(b, "\\%c", ch);
      else sb_add(b, (const char *)&ch, 1);
    }
    sb_str(b, shown < n ? "...\"]" : "\"]");
    return;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, ki)) sb_printf(b, "[%lld]", (long long)lua_tointeger(L, ki));
    else sb_printf(b, "[%.14g]", (double)lua_tonumber(L, ki));
    return;
  case LUA_TBOOLEAN: sb_str(b, lua_toboolean(L, ki) ? "[true]" : "[false]"); return;
  default: sb_printf(b, "[<%s>]", lua_typename(L, lua_type(L, ki))); return;
  }
}

static void enc_path(const enc_ctx *c, int ncomp, char *dst, size_t cap) {
  sbuf b = {dst, 0, cap, false};
  dst[0] = '\0';
  for (int i = 0; i < ncomp; i++) enc_path_comp(c, &c->comp[i], &b);
}

/* dst = prefix joined with dst ("a" + "b.c" -> "a.b.c", "a" + "[2]" -> "a[2]"). */
static void wc_path_prepend(char *dst, size_t cap, const char *prefix) {
  if (!prefix[0]) return;
  char tail[WC_PATH_MAX];
  snprintf(tail, sizeof tail, "%s", dst);
  sbuf b = {dst, 0, cap, false};
  dst[0] = '\0';
  sb_str(&b, prefix);
  if (tail[0] && tail[0] != '[') sb_str(&b, ".");
  sb_str(&b, tail);
}

static int enc_fail_at(enc_ctx *c, int ncomp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int enc_fail_at(enc_ctx *c, int ncomp, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->rec->msg, sizeof c->rec->msg, fmt, ap);
  va_end(ap);
  enc_path(c, ncomp, c->rec->path, sizeof c->rec->path);
  c->rec->set = true;
  return -1;
}

/* The value at the end of the current path cannot be copied; what = "a function", .... */
static int enc_fail_value(enc_ctx *c, const char *what) {
  if (c->ncomp > 0 && c->comp[c->ncomp - 1].kind == COMP_KEYOBJ)
    return enc_fail_at(c, c->ncomp - 1, "cannot copy %s as a table key", what);
  return enc_fail_at(c, c->ncomp, "cannot copy %s", what);
}

/* Enters a table or registered value: cycle check over this call and its enclosing calls,
 * depth limit, and stack room for one level (key, value, metatable lookups, hook call). */
static int enc_open(enc_ctx *c, const void *ptr, const char *what) { /* what: "table", a type */
  for (const enc_ctx *e = c; e; e = e->parent)
    for (int i = 0; i < e->nopen; i++)
      if (e->open[i] == ptr)
        return enc_fail_at(c, c->ncomp, "cannot copy a %s with a cycle", what);
  if (c->depth >= WCODEC_MAX_DEPTH)
    return enc_fail_at(c, c->ncomp, "table nesting deeper than %d", WCODEC_MAX_DEPTH);
  if (!lua_checkstack(c->L, 8))
    return enc_fail_at(c, c->ncomp, "cannot copy a %s: Lua stack exhausted", what);
  c->open[c->nopen++] = ptr;
  c->depth++;
  return 0;
}

static void enc_close(enc_ctx *c) {
  c->nopen--;
  c->depth--;
}

/* The registered type whose metatable the value at idx has, or NULL. */
static const wc_type *enc_find_type(lua_State *L, int idx) {
  if (wc_ntypes == 0 || !lua_getmetatable(L, idx)) return NULL;
  for (int i = 0; i < wc_ntypes; i++) {
    lua_getfield(L, LUA_REGISTRYINDEX, wc_types[i].name);
    int eq = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    if (eq) {
      lua_pop(L, 1);
      return &wc_types[i];
    }
  }
  lua_pop(L, 1);
  return NULL;
}

static void enc_int(wbuf *o, lua_Integer v) {
  wbuf_reserve(o, 1 + WC_VARINT_MAX);
  uint8_t *w = (uint8_t *)o->data + o->len;
  if (v >= 0 && v <= 0x7f) {
    w[0] = (uint8_t)(WC_SMALLINT | v);
    o->len += 1;
    return;
  }
  uint64_t zz = v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1;
  w[0] = WC_INT;
  o->len += 1 + (size_t)wc_put_varint(w + 1, zz);
}

static void enc_float(wbuf *o, lua_Number f) {
  uint64_t bits;
  memcpy(&bits, &f, 8);
  wbuf_reserve(o, 9);
  uint8_t *w = (uint8_t *)o->data + o->len;
  w[0] = WC_FLOAT;
  for (int i = 0; i < 8; i++) w[1 + i] = (uint8_t)(bits >> (8 * i));
  o->len += 9;
}

static void enc_str(wbuf *o, const char *s, size_t n) {
  if (n <= WC_SHORTSTR_MAX) {
    wbuf_reserve(o, 1 + n);
    o->data[o->len++] = (char)(WC_SHORTSTR + n);
  } else {
    wbuf_reserve(o, 1 + WC_VARINT_MAX + n);
    o->data[o->len++] = WC_STR;
    o->len += (size_t)wc_put_varint((uint8_t *)o->data + o->len, n);
  }
  if (n) memcpy(o->data + o->len, s, n);
  o->len += n;
}

static int enc_value(enc_ctx *c, int idx);

static int enc_table(enc_ctx *c, int idx) {
  lua_State *L = c->L;
  if (enc_open(c, lua_topointer(L, idx), "table") < 0) return -1;
  /* Array part: the run of non-nil t[1], t[2], ... (lua_rawlen's border may span nils). */
  lua_Integer n = 0;
  while (lua_rawgeti(L, idx, n + 1) != LUA_TNIL) {
    lua_pop(L, 1);
    n++;
  }
  lua_pop(L, 1);
  wbuf_putc(c->out, WC_TABLE);
  wc_out_varint(c->out, (uint64_t)n);
  enc_comp *k = &c->comp[c->ncomp++];
  k->kind = COMP_INDEX;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    k->i = i;
    if (enc_value(c, lua_gettop(L)) < 0) return -1;
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int top = lua_gettop(L);
    if (lua_isinteger(L, top - 1)) {
      lua_Integer i = lua_tointeger(L, top - 1);
      if (i >= 1 && i <= n) {
        lua_pop(L, 1);
        continue;
      }
    }
    k->kind = COMP_KEYOBJ;
    if (enc_value(c, top - 1) < 0) return -1;
    k->kind = COMP_KEY;
    k->key_idx = top - 1;
    if (enc_value(c, top) < 0) return -1;
    lua_pop(L, 1);
  }
  wbuf_putc(c->out, WC_NIL);
  c->ncomp--;
  enc_close(c);
  return 0;
}

typedef struct enc_call {
  const wc_type *t;
  wbuf *out;
  int rc;
} enc_call;

static int enc_trampoline(lua_State *L) {
  enc_call *h = lua_touserdata(L, 2);
  h->rc = h->t->enc(L, 1, h->out);
  return 0;
}

static int enc_custom(enc_ctx *c, int idx, const wc_type *t) {
  lua_State *L = c->L;
  wbuf *o = c->out;
  if (enc_open(c, lua_topointer(L, idx), t->name) < 0) return -1;
  wbuf_reserve(o, 2);
  o->data[o->len++] = WC_CUSTOM;
  o->data[o->len++] = (char)t->id;
  size_t start = o->len;

  enc_call h = {t, o, -1};
  lua_pushcfunction(L, enc_trampoline);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &h);
  const enc_ctx *saved = wc_tl_enc;
  wc_tl_enc = c;
  c->rec->set = false;
  int st = lua_pcall(L, 2, 0, 0);
  wc_tl_enc = saved;
  if (st != LUA_OK) {
    const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object";
    return enc_fail_at(c, c->ncomp, "cannot copy a %s: %s", t->name, m);
  }
  if (h.rc != 0) {
    if (!c->rec->set) return enc_fail_at(c, c->ncomp, "cannot copy a %s", t->name);
    char prefix[WC_PATH_MAX];
    enc_path(c, c->ncomp, prefix, sizeof prefix);
    wc_path_prepend(c->rec->path, sizeof c->rec->path, prefix);
    return -1;
  }
  c->rec->set = false; /* the hook dealt with any failure of its nested calls */
  if (o->len < start)
    return enc_fail_at(c, c->ncomp, "cannot copy a %s: its encoder shrank the buffer", t->name);

  /* Slide the hook's bytes to make room for their length. */
  uint8_t lenbuf[WC_VARINT_MAX];
  size_t n = o->len - start, k = (size_t)wc_put_varint(lenbuf, n);
  wbuf_reserve(o, k);
  memmove(o->data + start + k, o->data + start, n);
  memcpy(o->data + start, lenbuf, k);
  o->len += k;
  enc_close(c);
  return 0;
}

static int enc_value(enc_ctx *c, int idx) {
  lua_State *L = c->L;
  wbuf *o = c->out;
  switch (lua_type(L, idx)) {
  case LUA_TNONE:
  case LUA_TNIL: wbuf_putc(o, WC_NIL); return 0;
  case LUA_TBOOLEAN: wbuf_putc(o, lua_toboolean(L, idx) ? WC_TRUE : WC_FALSE); return 0;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) enc_int(o, lua_tointeger(L, idx));
    else enc_float(o, lua_tonumber(L, idx));
    return 0;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    enc_str(o, s, n);
    return 0;
  }
  case LUA_TTABLE: {
    const wc_type *t = enc_find_type(L, idx);
    return t ? enc_custom(c, idx, t) : enc_table(c, idx);
  }
  case LUA_TUSERDATA: {
    const wc_type *t = enc_find_type(L, idx);
    if (t) return enc_custom(c, idx, t);
    char what[WC_MSG_MAX / 2];
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
      snprintf(what, sizeof what, "a userdata of type %s", lua_tostring(L, -1));
    else
      snprintf(what, sizeof what, "a userdata");
    return enc_fail_value(c, what);
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) { /* json.null: a value, not a pointer */
      wbuf_putc(c->out, WC_NULLPTR);
      return 0;
    }
    return enc_fail_value(c, "a light userdata");
  case LUA_TFUNCTION: return enc_fail_value(c, "a function");
  case LUA_TTHREAD: return enc_fail_value(c, "a thread");
  default: return enc_fail_value(c, "a value of unknown type");
  }
}

/* Encodes n values from first; with record, as a record (count first). */
static int enc_run(lua_State *L, int first, int n, bool record, wbuf *out, char *err,
                   size_t errlen) {
  enc_err own;
  enc_ctx c;
  c.L = L;
  c.out = out;
  c.parent = wc_tl_enc;
  c.rec = c.parent ? c.parent->rec : &own;
  c.depth = c.parent ? c.parent->depth : 0;
  c.nopen = 0;
  c.ncomp = 0;
  c.rec->set = false;

  int top = lua_gettop(L);
  size_t start = out->len;
  int rc = 0;
  if (n < 0) {
    rc = enc_fail_at(&c, 0, "cannot copy a negative number of values");
  } else if (!lua_checkstack(L, 8)) {
    rc = enc_fail_at(&c, 0, "cannot copy: Lua stack exhausted");
  } else {
    first = lua_absindex(L, first);
    if (record) wc_out_varint(out, (uint64_t)n);
    for (int i = 0; i < n && rc == 0; i++) {
      if (record && n > 1) c.comp[c.ncomp++] = (enc_comp){COMP_ROOT, 0, i + 1};
      rc = enc_value(&c, first + i);
      if (rc == 0 && record && n > 1) c.ncomp--;
    }
  }
  lua_settop(L, top);
  if (rc == 0) return 0;
  out->len = start;
  if (err && errlen) {
    if (c.rec->path[0]) snprintf(err, errlen, "%s (at %s)", c.rec->msg, c.rec->path);
    else snprintf(err, errlen, "%s", c.rec->msg);
  }
  return -1;
}

int wcodec_encode(lua_State *L, int idx, wbuf *out, char *err, size_t errlen) {
  return enc_run(L, idx, 1, false, out, err, errlen);
}

int wcodec_encode_n(lua_State *L, int first, int n, wbuf *out, char *err, size_t errlen) {
  return enc_run(L, first, n, true, out, err, errlen);
}

/* ================================ decode ================================ */

typedef struct dec_ctx {
  lua_State *L;
  const uint8_t *p, *end;
  int depth; /* open tables and registered values, counting enclosing calls */
} dec_ctx;

/* Depth of the decode whose dec hook is running on this thread; 0 outside hooks. */
static _Thread_local int wc_tl_dec_depth;

static int dec_varint(dec_ctx *d, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (d->p >= d->end) return -1;
    uint8_t b = *d->p++;
    if (shift == 63 && b > 1) return -1; /* more than 64 bits */
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static size_t dec_left(const dec_ctx *d) { return (size_t)(d->end - d->p); }

static int dec_value(dec_ctx *d);

static int dec_table(dec_ctx *d) {
  lua_State *L = d->L;
  uint64_t n;
  if (d->depth >= WCODEC_MAX_DEPTH || !lua_checkstack(L, 8)) return -1;
  if (dec_varint(d, &n) < 0 || n > dec_left(d) || n > INT_MAX) return -1; /* >= 1 byte each */
  d->depth++;
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
    if (dec_value(d) < 0 || lua_isnil(L, -1)) return -1;
    lua_rawseti(L, -2, i);
  }
  for (;;) {
    if (d->p >= d->end) return -1;
    if (*d->p == WC_NIL) {
      d->p++;
      break;
    }
    if (dec_value(d) < 0) return -1;
    int kt = lua_type(L, -1);
    if (kt == LUA_TNIL) return -1;
    if (kt == LUA_TNUMBER && !lua_isinteger(L, -1) && isnan(lua_tonumber(L, -1))) return -1;
    if (dec_value(d) < 0 || lua_isnil(L, -1)) return -1;
    lua_rawset(L, -3);
  }
  d->depth--;
  return 0;
}

typedef struct dec_call {
  const wc_type *t;
  const char *p;
  size_t len;
  int rc;
} dec_call;

static int dec_trampoline(lua_State *L) {
  dec_call *h = lua_touserdata(L, 1);
  lua_settop(L, 0);
  if (h->t->dec(L, h->p, h->len) != 0 || lua_gettop(L) != 1) return 0;
  h->rc = 0;
  return 1;
}

static int dec_custom(dec_ctx *d) {
  lua_State *L = d->L;
  uint64_t n;
  if (d->p >= d->end) return -1;
  int slot = wc_slot_by_id[*d->p++] - 1;
  if (slot < 0) return -1;
  if (dec_varint(d, &n) < 0 || n > dec_left(d)) return -1;
  if (d->depth >= WCODEC_MAX_DEPTH || !lua_checkstack(L, 8)) return -1;

  dec_call h = {&wc_types[slot], (const char *)d->p, (size_t)n, -1};
  int base = lua_gettop(L);
  lua_pushcfunction(L, dec_trampoline);
  lua_pushlightuserdata(L, &h);
  int saved = wc_tl_dec_depth;
  wc_tl_dec_depth = d->depth + 1;
  int st = lua_pcall(L, 1, LUA_MULTRET, 0);
  wc_tl_dec_depth = saved;
  if (st == LUA_ERRMEM) lua_error(L); /* the receiver is out of memory: not our call to hide */
  if (st != LUA_OK || h.rc != 0 || lua_gettop(L) != base + 1) {
    lua_settop(L, base);
    return -1;
  }
  d->p += n;
  return 0;
}

static int dec_value(dec_ctx *d) {
  lua_State *L = d->L;
  if (d->p >= d->end) return -1;
  uint8_t tag = *d->p++;
  if (tag >= WC_SMALLINT) {
    lua_pushinteger(L, tag - WC_SMALLINT);
    return 0;
  }
  if (tag >= WC_SHORTSTR) {
    size_t n = (size_t)(tag - WC_SHORTSTR);
    if (n > dec_left(d)) return -1;
    lua_pushlstring(L, (const char *)d->p, n);
    d->p += n;
    return 0;
  }
  switch (tag) {
  case WC_NIL: lua_pushnil(L); return 0;
  case WC_NULLPTR: lua_pushlightuserdata(L, NULL); return 0;
  case WC_FALSE: lua_pushboolean(L, 0); return 0;
  case WC_TRUE: lua_pushboolean(L, 1); return 0;
  case WC_INT: {
    uint64_t zz;
    if (dec_varint(d, &zz) < 0) return -1;
    lua_Integer v = (zz & 1) ? -(lua_Integer)(zz >> 1) - 1 : (lua_Integer)(zz >> 1);
    lua_pushinteger(L, v);
    return 0;
  }
  case WC_FLOAT: {
    if (dec_left(d) < 8) return -1;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits |= (uint64_t)d->p[i] << (8 * i);
    d->p += 8;
    lua_Number f;
    memcpy(&f, &bits, 8);
    lua_pushnumber(L, f);
    return 0;
  }
  case WC_STR: {
    uint64_t n;
    if (dec_varint(d, &n) < 0 || n > dec_left(d)) return -1;
    lua_pushlstring(L, (const char *)d->p, (size_t)n);
    d->p += n;
    return 0;
  }
  case WC_TABLE: return dec_table(d);
  case WC_CUSTOM: return dec_custom(d);
  default: return -1;
  }
}

int wcodec_decode(lua_State *L, const char *data, size_t len, size_t *pos) {
  if (!data || *pos >= len || !lua_checkstack(L, 8)) return -1;
  dec_ctx d = {L, (const uint8_t *)data + *pos, (const uint8_t *)data + len, wc_tl_dec_depth};
  int top = lua_gettop(L);
  if (dec_value(&d) < 0) {
    lua_settop(L, top);
    return -1;
  }
  *pos = (size_t)(d.p - (const uint8_t *)data);
  return 0;
}

int wcodec_decode_n(lua_State *L, const char *data, size_t len) {
  if (!data) return -1;
  dec_ctx d = {L, (const uint8_t *)data, (const uint8_t *)data + len, wc_tl_dec_depth};
  uint64_t n;
  if (dec_varint(&d, &n) < 0 || n > dec_left(&d) || n > INT_MAX - 8) return -1;
  if (!lua_checkstack(L, (int)n + 8)) return -1;
  int top = lua_gettop(L);
  for (uint64_t i = 0; i < n; i++) {
    if (dec_value(&d) < 0) {
      lua_settop(L, top);
      return -1;
    }
  }
  if (d.p != d.end) {
    lua_settop(L, top);
    return -1;
  }
  return (int)n;
}
