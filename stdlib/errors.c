/* stdlib/errors.c — the `errors` module and the werr_* C API (SPEC.md "errors", errors.h).
 *
 * Representation: a full userdata holding `retryable`, with user values 1 message (string),
 * 2 kind (string), 3 details (table or nil), 4 stack (string), 5 cause (any value or nil).
 * Decisions:
 *  - tostring(err) is "Kind: message", or the bare message when the kind is UNKNOWN ("").
 *  - errors.new{kind=} accepts only the listed kinds (a typo must not mint a new kind); the C API
 *    and the codec take any string.
 *  - details are deep-copied in (errors.new, werr_set_details) and out (err:details()), so an
 *    error never changes after creation and always encodes.
 *  - errors.wrap keeps the wrapped error's traceback: the failure's origin is what a reader
 *    needs. Wrapping a non-error value captures a new traceback.
 *  - The traceback reads like luaL_traceback's but stops after STACK_FRAMES frames and names
 *    functions only from call-site information: luaL_traceback searches package.loaded for every
 *    frame, which would make each error creation cost grow with the loaded modules. */
#include "stdlib/errors.h"
#include <lauxlib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { UV_MESSAGE = 1, UV_KIND, UV_DETAILS, UV_STACK, UV_CAUSE, UV_COUNT = UV_CAUSE };

#define STACK_FRAMES 12
#define DETAILS_MAX_DEPTH 32
#define CODEC_VERSION 1
#define FLAG_RETRYABLE 0x01
#define FLAG_DETAILS 0x02

typedef struct werr {
  bool retryable;
} werr;

static const char *const kind_names[][2] = {
    {"UNKNOWN", WERR_UNKNOWN},
    {"INVALID", WERR_INVALID},
    {"NOT_FOUND", WERR_NOT_FOUND},
    {"ALREADY_EXISTS", WERR_ALREADY_EXISTS},
    {"PERMISSION_DENIED", WERR_PERMISSION_DENIED},
    {"TIMEOUT", WERR_TIMEOUT},
    {"CANCELED", WERR_CANCELED},
    {"UNAVAILABLE", WERR_UNAVAILABLE},
    {"INTERNAL", WERR_INTERNAL},
    {"CONFLICT", WERR_CONFLICT},
    {"RATE_LIMITED", WERR_RATE_LIMITED},
};
#define NKINDS (sizeof kind_names / sizeof kind_names[0])

static werr *to_err(lua_State *L, int idx) { return luaL_testudata(L, idx, WERR_MT); }

static werr *check_err(lua_State *L, const char *method) {
  werr *e = to_err(L, 1);
  if (!e)
    luaL_error(L, "bad self to 'err:%s' (wisp.Error expected, got %s; call it as err:%s())",
               method, luaL_typename(L, 1), method);
  return e;
}

/* ---- traceback ---- */

static void add_int(luaL_Buffer *b, long v) {
  char num[32];
  int n = snprintf(num, sizeof num, "%ld", v);
  luaL_addlstring(b, num, (size_t)n);
}

/* Pushes "stack traceback:\n\t..." for the frames from `level` up, at most STACK_FRAMES. */
static void push_stack(lua_State *L, int level) {
  lua_Debug ar;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "stack traceback:");
  for (int n = 0; lua_getstack(L, level, &ar); level++, n++) {
    if (n == STACK_FRAMES) {
      luaL_addstring(&b, "\n\t...");
      break;
    }
    lua_getinfo(L, "Slnt", &ar);
    luaL_addstring(&b, "\n\t");
    luaL_addstring(&b, ar.short_src);
    if (ar.currentline > 0) {
      luaL_addchar(&b, ':');
      add_int(&b, ar.currentline);
    }
    luaL_addstring(&b, ": in ");
    if (*ar.namewhat && ar.name) {
      luaL_addstring(&b, strcmp(ar.namewhat, "global") == 0 ? "function" : ar.namewhat);
      luaL_addstring(&b, " '");
      luaL_addstring(&b, ar.name);
      luaL_addchar(&b, '\'');
    } else if (*ar.what == 'm') {
      luaL_addstring(&b, "main chunk");
    } else if (*ar.what != 'C') {
      luaL_addstring(&b, "function <");
      luaL_addstring(&b, ar.short_src);
      luaL_addchar(&b, ':');
      add_int(&b, ar.linedefined);
      luaL_addchar(&b, '>');
    } else {
      luaL_addchar(&b, '?');
    }
    if (ar.istailcall) luaL_addstring(&b, "\n\t(...tail calls...)");
  }
  luaL_pushresult(&b);
}

/* ---- creation ---- */

static int m_kind(lua_State *L);
static int m_message(lua_State *L);
static int m_retryable(lua_State *L);
static int m_details(lua_State *L);
static int m_stack(lua_State *L);
static int m_tostring(lua_State *L);

static void push_metatable(lua_State *L) {
  if (luaL_newmetatable(L, WERR_MT)) {
    static const luaL_Reg methods[] = {
        {"kind", m_kind},   {"message", m_message}, {"retryable", m_retryable},
        {"details", m_details}, {"stack", m_stack},     {NULL, NULL},
    };
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}

/* Pushes a bare error (kind "", no message yet). stack_level < 0: no traceback is captured
 * (the caller sets UV_STACK itself). */
static werr *err_begin(lua_State *L, int stack_level) {
  luaL_checkstack(L, 8, "errors");
  werr *e = lua_newuserdatauv(L, sizeof *e, UV_COUNT);
  e->retryable = false;
  push_metatable(L);
  lua_setmetatable(L, -2);
  lua_pushliteral(L, "");
  lua_setiuservalue(L, -2, UV_KIND);
  if (stack_level >= 0) {
    push_stack(L, stack_level);
    lua_setiuservalue(L, -2, UV_STACK);
  }
  return e;
}

static void push_vfmt(lua_State *L, const char *fmt, va_list ap) {
  char small[256];
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(small, sizeof small, fmt, cp);
  va_end(cp);
  if (n < 0) {
    lua_pushstring(L, fmt);
  } else if ((size_t)n < sizeof small) {
    lua_pushlstring(L, small, (size_t)n);
  } else {
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    luaL_pushresultsize(&b, (size_t)n);
  }
}

static void push_verr(lua_State *L, const char *kind, bool retryable, const char *fmt,
                      va_list ap) {
  werr *e = err_begin(L, 0);
  e->retryable = retryable;
  push_vfmt(L, fmt, ap);
  lua_setiuservalue(L, -2, UV_MESSAGE);
  if (kind && *kind) {
    lua_pushstring(L, kind);
    lua_setiuservalue(L, -2, UV_KIND);
  }
}

int werr_push(lua_State *L, const char *kind, bool retryable, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_verr(L, kind, retryable, fmt, ap);
  va_end(ap);
  return 1;
}

int werr_fail(lua_State *L, const char *kind, bool retryable, const char *fmt, ...) {
  luaL_checkstack(L, 2, "errors");
  lua_pushnil(L);
  va_list ap;
  va_start(ap, fmt);
  push_verr(L, kind, retryable, fmt, ap);
  va_end(ap);
  return 2;
}

/* Pushes a deep copy of the table at idx. Keys must be strings or integers, values strings,
 * numbers, booleans or tables; anything else (or nesting beyond DETAILS_MAX_DEPTH, which is
 * also how a cycle shows) raises an error prefixed with `who`. */
static void details_copy(lua_State *L, int idx, int depth, const char *who) {
  if (depth >= DETAILS_MAX_DEPTH)
    luaL_error(L, "%s: details nest deeper than %d levels (a cycle?)", who, DETAILS_MAX_DEPTH);
  luaL_checkstack(L, 6, who);
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int kt = lua_type(L, -2);
    if (kt != LUA_TSTRING && !(kt == LUA_TNUMBER && lua_isinteger(L, -2)))
      luaL_error(L, "%s: details keys must be strings or integers (got %s)", who,
                 kt == LUA_TNUMBER ? "float" : lua_typename(L, kt));
    switch (lua_type(L, -1)) {
      case LUA_TSTRING:
      case LUA_TNUMBER:
      case LUA_TBOOLEAN:
        break;
      case LUA_TTABLE:
        details_copy(L, -1, depth + 1, who);
        lua_replace(L, -2);
        break;
      default:
        luaL_error(L, "%s: details may hold only strings, numbers, booleans and tables (got %s)",
                   who, luaL_typename(L, -1));
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

void werr_set_details(lua_State *L, int err_idx) {
  err_idx = lua_absindex(L, err_idx);
  if (!to_err(L, err_idx)) luaL_error(L, "werr_set_details: not an error object");
  if (lua_istable(L, -1)) {
    details_copy(L, -1, 0, "error details");
    lua_replace(L, -2);
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_setiuservalue(L, err_idx, UV_DETAILS);
}

/* ---- queries ---- */

bool werr_is(lua_State *L, int idx) { return to_err(L, idx) != NULL; }

static const char *uv_string(lua_State *L, int idx, int uv) {
  if (!to_err(L, idx)) return NULL;
  lua_getiuservalue(L, idx, uv);
  const char *s = lua_tostring(L, -1); /* anchored by the error, which is not moved by the GC */
  lua_pop(L, 1);
  return s ? s : "";
}

const char *werr_kind(lua_State *L, int idx) { return uv_string(L, idx, UV_KIND); }
const char *werr_message(lua_State *L, int idx) { return uv_string(L, idx, UV_MESSAGE); }

bool werr_retryable(lua_State *L, int idx) {
  werr *e = to_err(L, idx);
  return e && e->retryable;
}

/* ---- methods ---- */

static int m_kind(lua_State *L) {
  check_err(L, "kind");
  lua_getiuservalue(L, 1, UV_KIND);
  return 1;
}

static int m_message(lua_State *L) {
  check_err(L, "message");
  lua_getiuservalue(L, 1, UV_MESSAGE);
  return 1;
}

static int m_retryable(lua_State *L) {
  lua_pushboolean(L, check_err(L, "retryable")->retryable);
  return 1;
}

/* A fresh deep copy each call: callers may mutate it without changing the error. */
static int m_details(lua_State *L) {
  check_err(L, "details");
  if (lua_getiuservalue(L, 1, UV_DETAILS) == LUA_TTABLE) details_copy(L, -1, 0, "err:details");
  return 1;
}

static int m_stack(lua_State *L) {
  check_err(L, "stack");
  lua_getiuservalue(L, 1, UV_STACK);
  return 1;
}

static int m_tostring(lua_State *L) {
  check_err(L, "__tostring");
  lua_getiuservalue(L, 1, UV_KIND);
  if (lua_rawlen(L, -1) == 0) {
    lua_getiuservalue(L, 1, UV_MESSAGE);
    return 1;
  }
  lua_pushliteral(L, ": ");
  lua_getiuservalue(L, 1, UV_MESSAGE);
  lua_concat(L, 3);
  return 1;
}

/* ---- module functions ---- */

static bool known_kind(const char *s) {
  for (size_t i = 0; i < NKINDS; i++)
    if (strcmp(s, kind_names[i][1]) == 0) return true;
  return false;
}

/* Pushes t[name] (raw) and checks its type; nil is allowed unless required. */
static int new_field(lua_State *L, const char *name, int want, bool required) {
  lua_pushstring(L, name);
  int t = lua_rawget(L, 1);
  if (t == LUA_TNIL && !required) return t;
  if (t != want)
    luaL_error(L, "errors.new: field '%s' must be a %s (got %s)", name,
               want == LUA_TBOOLEAN ? "boolean" : lua_typename(L, want), lua_typename(L, t));
  return t;
}

static int l_new(lua_State *L) {
  int t = lua_type(L, 1);
  if (t == LUA_TSTRING) {
    lua_settop(L, 1);
    err_begin(L, 1);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, UV_MESSAGE);
    return 1;
  }
  if (t != LUA_TTABLE)
    return luaL_error(L, "bad argument #1 to 'errors.new' (string or table expected, got %s)",
                      luaL_typename(L, 1));
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!k || (strcmp(k, "message") && strcmp(k, "kind") && strcmp(k, "retryable") &&
               strcmp(k, "details")))
      return luaL_error(L,
                        "errors.new: unknown field %s%s%s (allowed: message, kind, retryable, "
                        "details)",
                        k ? "'" : "(a ", k ? k : luaL_typename(L, -1), k ? "'" : " key)");
  }
  new_field(L, "message", LUA_TSTRING, true);                 /* 2 */
  if (new_field(L, "kind", LUA_TSTRING, false) != LUA_TNIL) { /* 3 */
    if (!known_kind(lua_tostring(L, 3)))
      return luaL_error(L, "errors.new: field 'kind' must be one of the errors.* kinds (got \"%s\")",
                        lua_tostring(L, 3));
  }
  new_field(L, "retryable", LUA_TBOOLEAN, false);             /* 4 */
  if (new_field(L, "details", LUA_TTABLE, false) != LUA_TNIL) /* 5 */
    details_copy(L, 5, 0, "errors.new: field 'details'");
  else
    lua_pushnil(L);                                           /* 6: details copy */
  werr *e = err_begin(L, 1);
  e->retryable = lua_toboolean(L, 4);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_MESSAGE);
  if (!lua_isnil(L, 3)) {
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, UV_KIND);
  }
  lua_pushvalue(L, 6);
  lua_setiuservalue(L, -2, UV_DETAILS);
  return 1;
}

static int l_wrap(lua_State *L) {
  if (lua_gettop(L) < 1)
    return luaL_error(L, "bad argument #1 to 'errors.wrap' (value expected)");
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "bad argument #2 to 'errors.wrap' (string expected, got %s)",
                      luaL_typename(L, 2));
  lua_settop(L, 2);
  werr *inner = to_err(L, 1);
  if (inner) {
    werr *e = err_begin(L, -1); /* 3 */
    e->retryable = inner->retryable;
    static const int keep[] = {UV_KIND, UV_DETAILS, UV_STACK};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
      lua_getiuservalue(L, 1, keep[i]);
      lua_setiuservalue(L, 3, keep[i]);
    }
    lua_pushvalue(L, 2);
    lua_pushliteral(L, ": ");
    lua_getiuservalue(L, 1, UV_MESSAGE);
  } else {
    err_begin(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, ": ");
    luaL_tolstring(L, 1, NULL);
  }
  lua_concat(L, 3);
  lua_setiuservalue(L, 3, UV_MESSAGE);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 3, UV_CAUSE);
  return 1;
}

static int l_is(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "bad argument #2 to 'errors.is' (string expected, got %s)",
                      luaL_typename(L, 2));
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  /* Causes are created before the errors that wrap them, so the chain has no cycle. */
  while (to_err(L, -1)) {
    lua_getiuservalue(L, -1, UV_KIND);
    if (lua_rawequal(L, -1, 2)) {
      lua_pushboolean(L, 1);
      return 1;
    }
    lua_pop(L, 1);
    lua_getiuservalue(L, -1, UV_CAUSE);
    lua_replace(L, -2);
  }
  lua_pushboolean(L, 0);
  return 1;
}

int luaopen_wisp_errors(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"new", l_new}, {"wrap", l_wrap}, {"is", l_is}, {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  for (size_t i = 0; i < NKINDS; i++) {
    lua_pushstring(L, kind_names[i][1]);
    lua_setfield(L, -2, kind_names[i][0]);
  }
  return 1;
}

/* ---- codec ----
 * Layout (integers little-endian):
 *   u8 version (1), u8 flags (FLAG_RETRYABLE | FLAG_DETAILS),
 *   str kind, str message, str stack, [value details]
 *   str   = u32 length, bytes
 *   value = 'T' | 'F' | 'i' i64 | 'n' f64 bits | 's' str | 't' u32 count, count x (key, value)
 *   where a key is an 's' or 'i' value. */

static void put_u32(wbuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  wbuf_append(b, x, 4);
}

static void put_u64(wbuf *b, uint64_t v) {
  uint8_t x[8];
  for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
  wbuf_append(b, x, 8);
}

static int put_str(wbuf *b, const char *s, size_t n) {
  if (n > UINT32_MAX) return -1;
  put_u32(b, (uint32_t)n);
  wbuf_append(b, s, n);
  return 0;
}

static int put_value(lua_State *L, int idx, wbuf *out, int depth) {
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      wbuf_putc(out, lua_toboolean(L, idx) ? 'T' : 'F');
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        wbuf_putc(out, 'i');
        put_u64(out, (uint64_t)lua_tointeger(L, idx));
      } else {
        double d = lua_tonumber(L, idx);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        wbuf_putc(out, 'n');
        put_u64(out, bits);
      }
      return 0;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      wbuf_putc(out, 's');
      return put_str(out, s, n);
    }
    case LUA_TTABLE: {
      if (depth >= DETAILS_MAX_DEPTH || !lua_checkstack(L, 3)) return -1;
      idx = lua_absindex(L, idx);
      wbuf_putc(out, 't');
      size_t count_at = out->len;
      put_u32(out, 0);
      uint32_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if ((kt != LUA_TSTRING && !(kt == LUA_TNUMBER && lua_isinteger(L, -2))) ||
            put_value(L, -2, out, depth + 1) || put_value(L, -1, out, depth + 1) ||
            count == UINT32_MAX) {
          lua_pop(L, 2);
          return -1;
        }
        count++;
        lua_pop(L, 1);
      }
      for (int i = 0; i < 4; i++) out->data[count_at + i] = (char)(uint8_t)(count >> (8 * i));
      return 0;
    }
    default:
      return -1;
  }
}

int werr_encode(lua_State *L, int idx, wbuf *out) {
  werr *e = to_err(L, idx);
  if (!e || !lua_checkstack(L, 4)) return -1;
  idx = lua_absindex(L, idx);
  size_t start = out->len;
  int has_details = lua_getiuservalue(L, idx, UV_DETAILS) == LUA_TTABLE;
  wbuf_putc(out, CODEC_VERSION);
  wbuf_putc(out, (uint8_t)((e->retryable ? FLAG_RETRYABLE : 0) | (has_details ? FLAG_DETAILS : 0)));
  static const int strs[] = {UV_KIND, UV_MESSAGE, UV_STACK};
  int rc = 0;
  for (size_t i = 0; i < 3 && rc == 0; i++) {
    lua_getiuservalue(L, idx, strs[i]);
    size_t n = 0;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : "";
    rc = put_str(out, s, n);
    lua_pop(L, 1);
  }
  if (rc == 0 && has_details) rc = put_value(L, -1, out, 0);
  lua_pop(L, 1);
  if (rc) out->len = start;
  return rc;
}

typedef struct rd {
  const uint8_t *p, *end;
} rd;

static bool rd_bytes(rd *r, const uint8_t **p, size_t n) {
  if ((size_t)(r->end - r->p) < n) return false;
  *p = r->p;
  r->p += n;
  return true;
}

static bool rd_u32(rd *r, uint32_t *v) {
  const uint8_t *p;
  if (!rd_bytes(r, &p, 4)) return false;
  *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  return true;
}

static bool rd_u64(rd *r, uint64_t *v) {
  const uint8_t *p;
  if (!rd_bytes(r, &p, 8)) return false;
  *v = 0;
  for (int i = 7; i >= 0; i--) *v = *v << 8 | p[i];
  return true;
}

static bool rd_str(lua_State *L, rd *r) {
  uint32_t n;
  const uint8_t *p;
  if (!rd_u32(r, &n) || !rd_bytes(r, &p, n)) return false;
  lua_pushlstring(L, (const char *)p, n);
  return true;
}

/* Pushes one value; as_key restricts it to what details keys may be. */
static bool rd_value(lua_State *L, rd *r, int depth, bool as_key) {
  const uint8_t *tag;
  uint64_t u;
  if (!rd_bytes(r, &tag, 1) || !lua_checkstack(L, 3)) return false;
  switch (*tag) {
    case 's':
      return rd_str(L, r);
    case 'i':
      if (!rd_u64(r, &u)) return false;
      lua_pushinteger(L, (lua_Integer)u);
      return true;
    default:
      if (as_key) return false;
      break;
  }
  switch (*tag) {
    case 'T':
    case 'F':
      lua_pushboolean(L, *tag == 'T');
      return true;
    case 'n': {
      double d;
      if (!rd_u64(r, &u)) return false;
      memcpy(&d, &u, sizeof d);
      lua_pushnumber(L, d);
      return true;
    }
    case 't': {
      uint32_t count;
      if (depth >= DETAILS_MAX_DEPTH || !rd_u32(r, &count)) return false;
      if (count > (size_t)(r->end - r->p) / 2) return false; /* each pair takes >= 2 bytes */
      lua_createtable(L, 0, (int)(count < 64 ? count : 64));
      for (uint32_t i = 0; i < count; i++) {
        if (!rd_value(L, r, depth + 1, true)) return false;
        if (!rd_value(L, r, depth + 1, false)) return false;
        lua_rawset(L, -3);
      }
      return true;
    }
    default:
      return false;
  }
}

int werr_decode(lua_State *L, const char *p, size_t len) {
  int top = lua_gettop(L);
  rd r = {(const uint8_t *)p, (const uint8_t *)p + len};
  const uint8_t *hdr;
  if (!lua_checkstack(L, 8) || !rd_bytes(&r, &hdr, 2) || hdr[0] != CODEC_VERSION ||
      (hdr[1] & ~(FLAG_RETRYABLE | FLAG_DETAILS)))
    return -1;
  werr *e = err_begin(L, -1);
  e->retryable = hdr[1] & FLAG_RETRYABLE;
  static const int strs[] = {UV_KIND, UV_MESSAGE, UV_STACK};
  for (size_t i = 0; i < 3; i++) {
    if (!rd_str(L, &r)) goto bad;
    lua_setiuservalue(L, top + 1, strs[i]);
  }
  if (hdr[1] & FLAG_DETAILS) {
    const uint8_t *t = r.p;
    if (r.p == r.end || *t != 't' || !rd_value(L, &r, 0, false)) goto bad;
    lua_setiuservalue(L, top + 1, UV_DETAILS);
  }
  if (r.p != r.end) goto bad;
  return 0;
bad:
  lua_settop(L, top);
  return -1;
}
