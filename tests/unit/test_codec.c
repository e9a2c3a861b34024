/* tests/unit/test_codec.c — the value codec between two lua_States: round trips of every type
 * and edge value, error messages with paths, depth and cycle limits, registered type hooks
 * (including hooks that nest encode/decode), the byte format, and malformed input (truncation
 * at every byte, corruptions, crafted records) decoded under lua_pcall without crashing. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/codec.h"
#include "tests/unit/t.h"

/* dump(v): a canonical text of a value: type-tagged, floats as their bytes, keys sorted. */
static const char dump_src[] =
    "function dump(v)\n"
    "  local t = type(v)\n"
    "  if t == 'number' then\n"
    "    if math.type(v) == 'integer' then return 'i' .. v end\n"
    "    return 'f' .. (string.pack('<d', v):gsub('.', function(c)\n"
    "      return string.format('%02x', c:byte()) end))\n"
    "  elseif t == 'string' then return 's' .. string.format('%q', v)\n"
    "  elseif t == 'table' then\n"
    "    local ks = {}\n"
    "    for k in pairs(v) do ks[#ks + 1] = {dump(k), k} end\n"
    "    table.sort(ks, function(a, b) return a[1] < b[1] end)\n"
    "    local parts = {}\n"
    "    for _, e in ipairs(ks) do parts[#parts + 1] = e[1] .. '=' .. dump(v[e[2]]) end\n"
    "    return '{' .. table.concat(parts, ',') .. '}'\n"
    "  end\n"
    "  return tostring(v)\n"
    "end\n";

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, dump_src) != LUA_OK) {
    fprintf(stderr, "dump_src: %s\n", lua_tostring(L, -1));
    abort();
  }
  return L;
}

/* Pushes the results of `return <expr>` (one value). */
static void eval(lua_State *L, const char *expr) {
  char src[4096];
  snprintf(src, sizeof src, "return %s", expr);
  if (luaL_dostring(L, src) != LUA_OK) {
    fprintf(stderr, "eval %s: %s\n", expr, lua_tostring(L, -1));
    abort();
  }
}

/* dump() of the value at idx, copied into buf. */
static const char *dump_at(lua_State *L, int idx, char *buf, size_t cap) {
  idx = lua_absindex(L, idx);
  lua_getglobal(L, "dump");
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    snprintf(buf, cap, "dump error: %s", lua_tostring(L, -1));
  } else {
    snprintf(buf, cap, "%s", lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  return buf;
}

/* Decoding under lua_pcall, as the runtime must do it. */
typedef struct dec_args {
  const char *p;
  size_t len, pos;
  int rc;
  int single;
} dec_args;

static int dec_protected(lua_State *L) {
  dec_args *a = lua_touserdata(L, 1);
  lua_pop(L, 1);
  if (a->single) {
    a->rc = wcodec_decode(L, a->p, a->len, &a->pos);
    return a->rc < 0 ? 0 : 1;
  }
  a->rc = wcodec_decode_n(L, a->p, a->len);
  return a->rc < 0 ? 0 : a->rc;
}

/* Returns the decode's result (pushed values stay on the stack), or -2 if it raised. */
static int pdecode_n(lua_State *L, const char *p, size_t len) {
  dec_args a = {p, len, 0, -1, 0};
  int top = lua_gettop(L);
  lua_pushcfunction(L, dec_protected);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    lua_settop(L, top);
    return -2;
  }
  CHECK_EQ(lua_gettop(L) - top, a.rc < 0 ? 0 : a.rc);
  return a.rc;
}

static int pdecode(lua_State *L, const char *p, size_t len, size_t *pos) {
  dec_args a = {p, len, *pos, -1, 1};
  int top = lua_gettop(L);
  lua_pushcfunction(L, dec_protected);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    lua_settop(L, top);
    return -2;
  }
  CHECK_EQ(lua_gettop(L) - top, a.rc < 0 ? 0 : 1);
  if (a.rc == 0) *pos = a.pos;
  else CHECK_EQ(a.pos, *pos);
  return a.rc;
}

/* Encodes `expr` in A, decodes in B, compares dumps. Leaves the copy on B's stack top. */
static void round_trip(lua_State *A, lua_State *B, const char *expr) {
  char da[8192], db[8192], err[256] = "";
  wbuf out = WBUF_INIT;
  eval(A, expr);
  int rc = wcodec_encode(A, -1, &out, err, sizeof err);
  if (rc != 0) fprintf(stderr, "encode %s: %s\n", expr, err);
  CHECK_EQ(rc, 0);
  size_t pos = 0;
  int top = lua_gettop(B);
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  CHECK_EQ(pos, out.len);
  CHECK_EQ(lua_gettop(B), top + 1);
  dump_at(A, -1, da, sizeof da);
  dump_at(B, -1, db, sizeof db);
  if (strcmp(da, db) != 0) fprintf(stderr, "round trip of %s:\n  %s\n  %s\n", expr, da, db);
  CHECK_STR(da, db);
  lua_pop(A, 1);
  wbuf_free(&out);
}

static void test_round_trip_scalars(void) {
  lua_State *A = new_state(), *B = new_state();
  static const char *const exprs[] = {
      "nil", "true", "false", "0", "1", "-1", "127", "128", "-64", "-65", "300", "-300",
      "1 << 31", "1 << 32", "-(1 << 40)", "math.maxinteger", "math.mininteger",
      "math.maxinteger - 1", "math.mininteger + 1", "0.0", "-0.0", "1.0", "-1.0", "0.5", "0.1",
      "1e308", "-1e308", "5e-324", "2.2250738585072014e-308", "math.huge", "-math.huge",
      "0/0", "-(0/0)", "(string.unpack('<d', '\\1\\0\\0\\0\\0\\0\\xf8\\x7f'))",
      "(string.unpack('<d', '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff'))", "2^53", "2^63",
      "-2^63", "''", "'a'", "string.rep('x', 63)", "string.rep('y', 64)",
      "string.rep('z', 127)", "string.rep('w', 128)", "string.rep('v', 16384)",
      "'\\0\\1\\2\\255\\0'", "'caf\\u{e9} \\u{1F600}'", "'\\xff\\xfe'",
  };
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) round_trip(A, B, exprs[i]);
  lua_settop(B, 0);

  /* Integer subtype kept: 1 and 1.0 differ, as do 0 and -0.0. */
  round_trip(A, B, "1");
  round_trip(A, B, "1.0");
  round_trip(A, B, "-0.0");
  CHECK(lua_isinteger(B, -3));
  CHECK_EQ(lua_tointeger(B, -3), 1);
  CHECK(!lua_isinteger(B, -2));
  CHECK(lua_tonumber(B, -2) == 1.0);
  double z = lua_tonumber(B, -1);
  uint64_t zbits;
  memcpy(&zbits, &z, 8);
  CHECK(zbits == UINT64_C(0x8000000000000000));
  lua_settop(B, 0);

  /* NaN payload and sign, bit for bit. */
  round_trip(A, B, "(string.unpack('<d', '\\x21\\x43\\x65\\x87\\0\\0\\xf8\\xff'))");
  double nan = lua_tonumber(B, -1);
  uint64_t nbits;
  memcpy(&nbits, &nan, 8);
  CHECK(nbits == UINT64_C(0xfff8000087654321));
  lua_settop(B, 0);

  /* Mininteger keeps its value. */
  round_trip(A, B, "math.mininteger");
  CHECK(lua_isinteger(B, -1));
  CHECK(lua_tointeger(B, -1) == INT64_MIN);
  lua_close(A);
  lua_close(B);
}

static void test_round_trip_tables(void) {
  lua_State *A = new_state(), *B = new_state();
  static const char *const exprs[] = {
      "{}",
      "{1, 2, 3}",
      "{1, 2.5, 'three', true, false}",
      "{1, nil, 3}",
      "{nil, nil, 3}",
      "{[1] = 'a', [2] = 'b', [4] = 'd'}",
      "{[0] = 0, [-1] = -1, [math.maxinteger] = 1, [math.mininteger] = 2}",
      "{[1.5] = 'f', [-0.25] = 'g', [1e300] = 'h', [math.huge] = 'inf', [-math.huge] = 'ninf'}",
      "{[2^53] = 'float key that is an integer'}",
      "{[true] = 't', [false] = 'f'}",
      "{a = 1, b = {c = {d = {e = 'deep'}}}}",
      "{['a b'] = 1, [''] = 2, ['\\0'] = 3, ['end'] = 4}",
      "{[{}] = 'table key', [{1, 2}] = {3, 4}}",
      "{{}, {{}}, {{{}}}}",
      "{x = {1, 2, {y = {3}}}, [10] = 10, [3.25] = {}}",
      "setmetatable({a = 1}, {__index = function() return 42 end})",
      "(function() local t = {} for i = 1, 1000 do t[i] = i * 2 end return t end)()",
      "(function() local t = {} for i = 1000, 1, -1 do t[i] = i end return t end)()",
      "(function() local t = {} for i = 1, 500 do t['k' .. i] = {i, tostring(i)} end "
      "return t end)()",
      "(function() local t = {1, 2, 3} t[2] = nil return t end)()",
      "(function() local t = {} t[1] = 1 t[2] = 2 t[3] = 3 t[4] = 4 for k = 3, 40 do "
      "t[1 << k] = k end return t end)()",
  };
  for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) round_trip(A, B, exprs[i]);
  lua_settop(B, 0);

  /* Metatables are dropped. */
  round_trip(A, B, "setmetatable({a = 1}, {__index = function() return 42 end})");
  CHECK(!lua_getmetatable(B, -1));
  lua_settop(B, 0);

  /* A shared sub-table is copied twice. */
  round_trip(A, B, "(function() local s = {1} return {s, s, k = s} end)()");
  lua_rawgeti(B, -1, 1);
  lua_rawgeti(B, -2, 2);
  CHECK(!lua_rawequal(B, -1, -2));
  lua_rawgeti(B, -1, 1);
  CHECK_EQ(lua_tointeger(B, -1), 1);
  lua_settop(B, 0);

  /* Nesting of exactly WCODEC_MAX_DEPTH tables is allowed. */
  char expr[128];
  snprintf(expr, sizeof expr, "(function() local t = {} for i = 2, %d do t = {t} end return t "
           "end)()", WCODEC_MAX_DEPTH);
  round_trip(A, B, expr);
  lua_close(A);
  lua_close(B);
}

static void test_big_values(void) {
  lua_State *A = new_state(), *B = new_state();
  /* 16 MiB binary string. */
  size_t n = (size_t)16 << 20;
  char *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (char)(i * 131 + (i >> 9));
  lua_pushlstring(A, big, n);
  wbuf out = WBUF_INIT;
  char err[128];
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  CHECK(out.len < n + 16);
  size_t pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  size_t bn = 0;
  const char *bs = lua_tolstring(B, -1, &bn);
  CHECK_EQ(bn, n);
  CHECK(bs && memcmp(bs, big, n) == 0);
  free(big);
  wbuf_free(&out);
  lua_settop(A, 0);
  lua_settop(B, 0);

  /* Large array and map. */
  round_trip(A, B, "(function() local t = {} for i = 1, 200000 do t[i] = i end "
                   "for i = 1, 100000 do t['k' .. i] = i + 0.5 end return t end)()");
  CHECK_EQ(lua_rawlen(B, -1), 200000);
  lua_close(A);
  lua_close(B);
}

/* Encodes `expr` in a fresh state and expects failure with exactly `msg`. */
static void expect_error(const char *expr, const char *msg) {
  lua_State *A = new_state();
  eval(A, expr);
  wbuf out = WBUF_INIT;
  wbuf_append(&out, "keep", 4);
  char err[256] = "";
  int top = lua_gettop(A);
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), -1);
  CHECK_EQ(out.len, 4); /* restored */
  CHECK_EQ(lua_gettop(A), top);
  if (strcmp(err, msg) != 0) fprintf(stderr, "for %s\n", expr);
  CHECK_STR(err, msg);
  wbuf_free(&out);
  lua_close(A);
}

static void test_errors(void) {
  expect_error("print", "cannot copy a function");
  expect_error("function() end", "cannot copy a function");
  expect_error("coroutine.create(print)", "cannot copy a thread");
  expect_error("io.stdout", "cannot copy a userdata of type FILE*");
  expect_error("{payload = {handlers = {1, print}}}",
               "cannot copy a function (at payload.handlers[2])");
  expect_error("{{{{print}}}}", "cannot copy a function (at [1][1][1][1])");
  expect_error("(function() local t = {a = {}} t.a.b = t.a return t end)()",
               "cannot copy a table with a cycle (at a.b)");
  expect_error("(function() local t = {} t.self = t return t end)()",
               "cannot copy a table with a cycle (at self)");
  expect_error("(function() local t = {} t[1] = t return t end)()",
               "cannot copy a table with a cycle (at [1])");
  expect_error("(function() local t = {} t[t] = 1 return t end)()",
               "cannot copy a table with a cycle (at [<key>])");
  expect_error("{[print] = 1}", "cannot copy a function as a table key");
  expect_error("{a = {[coroutine.create(print)] = 1}}",
               "cannot copy a thread as a table key (at a)");
  expect_error("{[{f = print}] = 1}", "cannot copy a function (at [<key>].f)");
  expect_error("{['a b'] = {f = print}}", "cannot copy a function (at [\"a b\"].f)");
  expect_error("{['end'] = print}", "cannot copy a function (at [\"end\"])");
  expect_error("{['q\"\\\\\\n'] = print}", "cannot copy a function (at [\"q\\\"\\\\\\x0a\"])");
  expect_error("{[string.rep('x', 40) .. ' '] = print}",
               "cannot copy a function (at [\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"])");
  expect_error("{[1.5] = {print}}", "cannot copy a function (at [1.5][1])");
  expect_error("{[true] = {x = print}}", "cannot copy a function (at [true].x)");
  expect_error("{[-7] = {_x9 = {io.stdout}}}",
               "cannot copy a userdata of type FILE* (at [-7]._x9[1])");

  /* Depth: 101 tables fail, with a cut path. */
  char expr[128], msg[256] = "";
  snprintf(expr, sizeof expr, "(function() local t = {} for i = 2, %d do t = {t} end return t "
           "end)()", WCODEC_MAX_DEPTH + 1);
  lua_State *A = new_state();
  eval(A, expr);
  wbuf out = WBUF_INIT;
  CHECK_EQ(wcodec_encode(A, -1, &out, msg, sizeof msg), -1);
  CHECK(strncmp(msg, "table nesting deeper than 100 (at [1][1][1]", 43) == 0);
  CHECK(strstr(msg, "...)") != NULL);
  CHECK_EQ(out.len, 0);
  /* A tiny err buffer is still terminated; NULL err is accepted. */
  char tiny[6];
  CHECK_EQ(wcodec_encode(A, -1, &out, tiny, sizeof tiny), -1);
  CHECK_STR(tiny, "table");
  CHECK_EQ(wcodec_encode(A, -1, &out, NULL, 0), -1);
  lua_settop(A, 0);

  /* Light userdata. */
  lua_pushlightuserdata(A, &out);
  CHECK_EQ(wcodec_encode(A, -1, &out, msg, sizeof msg), -1);
  CHECK_STR(msg, "cannot copy a light userdata");
  /* the NULL light userdata (json.null) is a value and crosses */
  {
    lua_State *X = luaL_newstate(), *Y = luaL_newstate();
    wbuf nb = WBUF_INIT;
    char nerr[128];
    lua_pushlightuserdata(X, NULL);
    CHECK_EQ(wcodec_encode(X, -1, &nb, nerr, sizeof nerr), 0);
    size_t npos = 0;
    CHECK_EQ(wcodec_decode(Y, nb.data, nb.len, &npos), 0);
    CHECK(lua_islightuserdata(Y, -1) && lua_touserdata(Y, -1) == NULL);
    wbuf_free(&nb);
    lua_close(X);
    lua_close(Y);
  }
  lua_settop(A, 0);
  wbuf_free(&out);
  lua_close(A);
}

static void test_records(void) {
  lua_State *A = new_state(), *B = new_state();
  wbuf out = WBUF_INIT;
  char err[256] = "";
  lua_pushinteger(A, 7);
  eval(A, "{x = 'y', [2] = 2.5}");
  lua_pushnil(A);
  lua_pushstring(A, "last");
  CHECK_EQ(wcodec_encode_n(A, 1, 4, &out, err, sizeof err), 0);
  CHECK_EQ(pdecode_n(B, out.data, out.len), 4);
  CHECK_EQ(lua_gettop(B), 4);
  CHECK_EQ(lua_tointeger(B, 1), 7);
  char d[256];
  CHECK_STR(dump_at(B, 2, d, sizeof d), "{i2=f0000000000000440,s\"x\"=s\"y\"}");
  CHECK(lua_isnil(B, 3));
  CHECK_STR(lua_tostring(B, 4), "last");
  lua_settop(B, 0);

  /* Empty record. */
  wbuf_reset(&out);
  CHECK_EQ(wcodec_encode_n(A, 1, 0, &out, err, sizeof err), 0);
  CHECK_EQ(out.len, 1);
  CHECK_EQ(pdecode_n(B, out.data, out.len), 0);
  CHECK_EQ(lua_gettop(B), 0);

  /* Negative relative index. */
  wbuf_reset(&out);
  CHECK_EQ(wcodec_encode_n(A, -2, 2, &out, err, sizeof err), 0);
  CHECK_EQ(pdecode_n(B, out.data, out.len), 2);
  CHECK(lua_isnil(B, 1));
  CHECK_STR(lua_tostring(B, 2), "last");
  lua_settop(B, 0);

  /* Errors name the position in the record when n > 1. */
  lua_settop(A, 0);
  lua_pushinteger(A, 1);
  eval(A, "{h = {print}}");
  wbuf_reset(&out);
  wbuf_append(&out, "ab", 2);
  CHECK_EQ(wcodec_encode_n(A, 1, 2, &out, err, sizeof err), -1);
  CHECK_STR(err, "cannot copy a function (at #2.h[1])");
  CHECK_EQ(out.len, 2);
  CHECK_EQ(wcodec_encode_n(A, 2, 1, &out, err, sizeof err), -1);
  CHECK_STR(err, "cannot copy a function (at h[1])");
  lua_pushcfunction(A, luaopen_base);
  CHECK_EQ(wcodec_encode_n(A, 1, 3, &out, err, sizeof err), -1);
  CHECK_STR(err, "cannot copy a function (at #2.h[1])");
  CHECK_EQ(wcodec_encode_n(A, 3, 1, &out, err, sizeof err), -1);
  CHECK_STR(err, "cannot copy a function");
  CHECK_EQ(wcodec_encode_n(A, 1, -1, &out, err, sizeof err), -1);
  CHECK_EQ(out.len, 2);

  /* Trailing bytes after a record are malformed. */
  wbuf_reset(&out);
  lua_settop(A, 0);
  lua_pushinteger(A, 5);
  CHECK_EQ(wcodec_encode_n(A, 1, 1, &out, err, sizeof err), 0);
  wbuf_putc(&out, 0);
  CHECK_EQ(pdecode_n(B, out.data, out.len), -1);
  CHECK_EQ(pdecode_n(B, out.data, out.len - 1), 1);
  lua_settop(B, 0);

  /* Values appended one after another decode with a moving position. */
  wbuf_reset(&out);
  eval(A, "{1, {2}}");
  CHECK_EQ(wcodec_encode(A, 1, &out, err, sizeof err), 0);
  CHECK_EQ(wcodec_encode(A, 2, &out, err, sizeof err), 0);
  size_t pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  CHECK_EQ(pos, out.len);
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), -1);
  CHECK_EQ(lua_tointeger(B, 1), 5);
  CHECK_STR(dump_at(B, 2, d, sizeof d), "{i1=i1,i2={i1=i2}}");
  pos = 0;
  CHECK_EQ(pdecode(B, NULL, 0, &pos), -1);
  CHECK_EQ(pdecode_n(B, NULL, 0), -1);
  wbuf_free(&out);
  lua_close(A);
  lua_close(B);
}

static void expect_bytes(const char *expr, const char *hex) {
  lua_State *A = new_state();
  eval(A, expr);
  wbuf out = WBUF_INIT;
  CHECK_EQ(wcodec_encode(A, -1, &out, NULL, 0), 0);
  char got[256] = "";
  for (size_t i = 0; i < out.len && i * 2 + 2 < sizeof got; i++)
    snprintf(got + 2 * i, 3, "%02x", (unsigned char)out.data[i]);
  if (strcmp(got, hex) != 0) fprintf(stderr, "bytes of %s\n", expr);
  CHECK_STR(got, hex);
  wbuf_free(&out);
  lua_close(A);
}

static void test_format(void) {
  expect_bytes("nil", "00");
  expect_bytes("false", "01");
  expect_bytes("true", "02");
  expect_bytes("0", "80");
  expect_bytes("127", "ff");
  expect_bytes("128", "038002");
  expect_bytes("-1", "0301");
  expect_bytes("math.mininteger", "03ffffffffffffffffff01");
  expect_bytes("math.maxinteger", "03feffffffffffffffff01");
  expect_bytes("1.0", "04000000000000f03f");
  expect_bytes("''", "40");
  expect_bytes("'ab'", "426162");
  expect_bytes("string.rep('a', 64):sub(1, 1)", "4161");
  expect_bytes("{}", "060000");
  expect_bytes("{1, 2, 3}", "0603818283" "00");
  expect_bytes("{x = true}", "060041780200");
  expect_bytes("{1, nil, 3}", "060181" "8383" "00");
  /* A long string uses the length-prefixed form. */
  lua_State *A = new_state();
  eval(A, "string.rep('a', 64)");
  wbuf out = WBUF_INIT;
  CHECK_EQ(wcodec_encode(A, -1, &out, NULL, 0), 0);
  CHECK_EQ(out.len, 66);
  CHECK_EQ((unsigned char)out.data[0], 0x05);
  CHECK_EQ((unsigned char)out.data[1], 64);
  wbuf_free(&out);
  lua_close(A);
}

/* ---- registered types ---- */

#define POINT_MT "test.point"
#define BOX_MT "test.box"
#define BAD_MT "test.bad"
#define RAISE_MT "test.raise"

typedef struct point {
  int64_t x, y;
} point;

static int point_enc(lua_State *L, int idx, wbuf *out) {
  point *p = luaL_checkudata(L, idx, POINT_MT);
  if (p->x < 0) return -1; /* the hook's own refusal */
  wbuf_append(out, p, sizeof *p);
  return 0;
}

static int point_dec(lua_State *L, const char *s, size_t len) {
  if (len != sizeof(point)) return -1;
  point *p = lua_newuserdatauv(L, sizeof *p, 0);
  memcpy(p, s, sizeof *p);
  luaL_setmetatable(L, POINT_MT);
  return 0;
}

static int new_point(lua_State *L) {
  point *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->x = luaL_checkinteger(L, 1);
  p->y = luaL_checkinteger(L, 2);
  luaL_setmetatable(L, POINT_MT);
  return 1;
}

static int point_xy(lua_State *L) {
  point *p = luaL_checkudata(L, 1, POINT_MT);
  lua_pushinteger(L, p->x);
  lua_pushinteger(L, p->y);
  return 2;
}

/* A box is a table {v = any} with metatable test.box; its hooks nest the codec for v. */
static int box_enc(lua_State *L, int idx, wbuf *out) {
  lua_getfield(L, idx, "v");
  int rc = wcodec_encode(L, -1, out, NULL, 0);
  lua_pop(L, 1);
  return rc;
}

static int box_dec(lua_State *L, const char *s, size_t len) {
  size_t pos = 0;
  lua_createtable(L, 0, 1);
  if (wcodec_decode(L, s, len, &pos) != 0 || pos != len) return -1;
  lua_setfield(L, -2, "v");
  luaL_setmetatable(L, BOX_MT);
  return 0;
}

static int bad_enc(lua_State *L, int idx, wbuf *out) {
  wbuf_putc(out, 1);
  return 0;
}

static int bad_dec(lua_State *L, const char *s, size_t len) {
  if (len == 1 && s[0] == 1) return -1;             /* refuses */
  lua_pushinteger(L, 1);                             /* pushes two values */
  lua_pushinteger(L, 2);
  return 0;
}

static int raise_enc(lua_State *L, int idx, wbuf *out) { return luaL_error(L, "boom"); }

static int raise_dec(lua_State *L, const char *s, size_t len) {
  if (len > 0 && s[0] == 'm') {
    /* Exhaust a memory-limited state. */
    for (;;) lua_newuserdatauv(L, 1 << 20, 0);
  }
  return luaL_error(L, "boom");
}

static void register_test_types(void) {
  wcodec_register_type(1, POINT_MT, point_enc, point_dec);
  wcodec_register_type(2, BOX_MT, box_enc, box_dec);
  wcodec_register_type(3, BAD_MT, bad_enc, bad_dec);
  wcodec_register_type(4, RAISE_MT, raise_enc, raise_dec);
  /* Re-registering an id replaces it (no new slot). */
  wcodec_register_type(4, RAISE_MT, raise_enc, raise_dec);
}

static void open_test_types(lua_State *L) {
  luaL_newmetatable(L, POINT_MT);
  lua_pop(L, 1);
  luaL_newmetatable(L, BOX_MT);
  lua_pop(L, 1);
  luaL_newmetatable(L, BAD_MT);
  lua_pop(L, 1);
  luaL_newmetatable(L, RAISE_MT);
  lua_pop(L, 1);
  lua_register(L, "point", new_point);
  lua_register(L, "point_xy", point_xy);
  if (luaL_dostring(L, "function box(v) return setmetatable({v = v}, debug.getregistry()['" BOX_MT
                       "']) end\n"
                       "function mt(name, t) return setmetatable(t or {}, "
                       "debug.getregistry()[name]) end") != LUA_OK)
    abort();
}

static void test_registered_types(void) {
  lua_State *A = new_state(), *B = new_state();
  open_test_types(A);
  open_test_types(B);
  char err[256] = "";
  wbuf out = WBUF_INIT;

  /* Userdata with a registered metatable. */
  eval(A, "{p = point(3, -4), list = {point(1, 2)}}");
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  size_t pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  lua_getfield(B, -1, "p");
  CHECK(luaL_testudata(B, -1, POINT_MT) != NULL);
  point *p = luaL_testudata(B, -1, POINT_MT);
  CHECK(p && p->x == 3 && p->y == -4);
  lua_settop(B, 0);
  lua_settop(A, 0);

  /* Tables with a registered metatable; the hooks nest encode/decode. */
  wbuf_reset(&out);
  eval(A, "box({1, box('inner'), {k = box(point(5, 6))}})");
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  CHECK_EQ(pos, out.len);
  lua_getmetatable(B, -1);
  luaL_getmetatable(B, BOX_MT);
  CHECK(lua_rawequal(B, -1, -2));
  lua_pop(B, 2);
  lua_setglobal(B, "got");
  CHECK_EQ(luaL_dostring(B, "return got.v[1] == 1 and getmetatable(got.v[2]) == "
                            "getmetatable(got) and got.v[2].v == 'inner' and "
                            "select(2, point_xy(got.v[3].k.v)) == 6"),
           LUA_OK);
  CHECK(lua_toboolean(B, -1));
  lua_settop(B, 0);
  lua_settop(A, 0);

  /* Errors inside hooks: nested message and path, the hook's refusal, a raising hook. */
  struct {
    const char *expr, *msg;
  } cases[] = {
      {"{payload = box({fn = print})}", "cannot copy a function (at payload.fn)"},
      {"{payload = box({print})}", "cannot copy a function (at payload[1])"},
      {"{a = box(box({b = {coroutine.create(print)}}))}", "cannot copy a thread (at a.b[1])"},
      {"box(print)", "cannot copy a function"},
      {"{x = {point(-1, 0)}}", "cannot copy a test.point (at x[1])"},
      {"{r = mt('" RAISE_MT "')}", "cannot copy a test.raise: boom (at r)"},
      {"(function() local b = box() b.v = {b} return {top = b} end)()",
       "cannot copy a test.box with a cycle (at top[1])"},
      {"(function() local b = box() b.v = b return b end)()",
       "cannot copy a test.box with a cycle"},
      {"(function() local t = {} t.b = box(t) return t end)()",
       "cannot copy a table with a cycle (at b)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    eval(A, cases[i].expr);
    wbuf_reset(&out);
    wbuf_append(&out, "zz", 2);
    int top = lua_gettop(A);
    CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), -1);
    CHECK_EQ(out.len, 2);
    CHECK_EQ(lua_gettop(A), top);
    CHECK_STR(err, cases[i].msg);
    lua_settop(A, 0);
  }

  /* Depth counts across nested hook calls: boxes nested 60 deep inside 60 tables fail. */
  CHECK_EQ(luaL_dostring(A, "local v = 1 for i = 1, 60 do v = {box(v)} end return v"), LUA_OK);
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), -1);
  CHECK(strncmp(err, "table nesting deeper than 100 (at [1][1]", 40) == 0);
  lua_settop(A, 0);
  /* 50 + 50 is fine and decodes. */
  CHECK_EQ(luaL_dostring(A, "local v = 1 for i = 1, 50 do v = {box(v)} end return v"), LUA_OK);
  wbuf_reset(&out);
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  lua_settop(B, 0);
  lua_settop(A, 0);
  /* A crafted record: box(box(...)) 150 deep is refused by the decoder. */
  wbuf_reset(&out);
  {
    wbuf inner = WBUF_INIT;
    wbuf_putc(&inner, 0x81);
    for (int i = 0; i < 150; i++) {
      wbuf nb = WBUF_INIT;
      wbuf_putc(&nb, 0x07);
      wbuf_putc(&nb, 2);
      uint8_t v[10];
      size_t n = inner.len, k = 0;
      do {
        v[k++] = (uint8_t)((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
        n >>= 7;
      } while (n);
      wbuf_append(&nb, v, k);
      wbuf_append(&nb, inner.data, inner.len);
      wbuf_free(&inner);
      inner = nb;
      if (i == 98) { /* 99 boxes: fine */
        pos = 0;
        CHECK_EQ(pdecode(B, inner.data, inner.len, &pos), 0);
        lua_settop(B, 0);
      }
    }
    pos = 0;
    CHECK_EQ(pdecode(B, inner.data, inner.len, &pos), -1);
    CHECK_EQ(lua_gettop(B), 0);
    wbuf_free(&inner);
  }

  /* Decode side hook failures: refusal, wrong push count, unknown id, raising hook. */
  static const char refuse[] = {0x07, 3, 1, 1};
  static const char twice[] = {0x07, 3, 1, 2};
  static const char unknown[] = {0x07, 9, 0};
  static const char raises[] = {0x07, 4, 1, 'x'};
  static const char shortlen[] = {0x07, 1, 16, 0, 0};
  static const char point_short[] = {0x07, 1, 1, 0};
  const struct {
    const char *p;
    size_t n;
  } bad[] = {{refuse, sizeof refuse},     {twice, sizeof twice},
             {unknown, sizeof unknown},   {raises, sizeof raises},
             {shortlen, sizeof shortlen}, {point_short, sizeof point_short}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pos = 0;
    CHECK_EQ(pdecode(B, bad[i].p, bad[i].n, &pos), -1);
    CHECK_EQ(lua_gettop(B), 0);
  }
  /* A state that never created the registered metatables: a table with another metatable is
   * a plain table. */
  lua_State *C = new_state();
  eval(C, "setmetatable({v = 1}, {})");
  wbuf_reset(&out);
  CHECK_EQ(wcodec_encode(C, -1, &out, err, sizeof err), 0);
  CHECK_EQ((unsigned char)out.data[0], 0x06);
  lua_close(C);

  wbuf_free(&out);
  lua_close(A);
  lua_close(B);
}

/* ---- memory-limited receiver ---- */

typedef struct limit {
  size_t used, max;
} limit;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  limit *l = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    l->used -= old;
    return NULL;
  }
  if (nsize > old && l->used + (nsize - old) > l->max) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) l->used = l->used - old + nsize;
  return p;
}

static void test_memory_limit(void) {
  lua_State *A = new_state();
  limit lim = {0, 4 << 20};
  lua_State *B = lua_newstate(limited_alloc, &lim);
  luaL_openlibs(B);
  open_test_types(B);
  wbuf out = WBUF_INIT;
  char err[128];

  /* A string larger than the limit: the decode raises, pcall reports it, B stays usable. */
  eval(A, "{s = string.rep('m', 8 << 20)}");
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  int top = lua_gettop(B);
  CHECK_EQ(pdecode_n(B, out.data, out.len), -2);
  CHECK_EQ(lua_gettop(B), top);
  size_t pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), -2);
  CHECK_EQ(pos, 0);

  /* Memory error inside a dec hook (re-raised), then a nested decode still works. */
  static const char raises_mem[] = {0x07, 4, 1, 'm'};
  CHECK_EQ(pdecode(B, raises_mem, sizeof raises_mem, &pos), -2);
  /* The depth shared with hooks was reset: 100 nested tables still decode. */
  wbuf_reset(&out);
  for (int i = 0; i < WCODEC_MAX_DEPTH - 1; i++) wbuf_append(&out, "\x06\x01", 2);
  wbuf_append(&out, "\x06\x00\x00", 3);
  for (int i = 0; i < WCODEC_MAX_DEPTH - 1; i++) wbuf_putc(&out, 0);
  pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  lua_settop(B, 0);
  wbuf_reset(&out);
  open_test_types(A);
  eval(A, "box(box({1, 2, 3}))");
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), 0);
  lua_settop(B, 0);

  /* Many small tables up to the limit. */
  wbuf_reset(&out);
  eval(A, "(function() local t = {} for i = 1, 100000 do t[i] = {i} end return t end)()");
  CHECK_EQ(wcodec_encode(A, -1, &out, err, sizeof err), 0);
  pos = 0;
  CHECK_EQ(pdecode(B, out.data, out.len, &pos), -2);
  CHECK_EQ(lua_gettop(B), 0);
  wbuf_free(&out);
  lua_close(A);
  lua_close(B);
}

/* ---- malformed input ---- */

static const char *const sample_exprs[] = {
    "{1, -2, 3.5, 'str', true, false, {nested = {deep = {'x'}}}, [10] = 'ten', [2.5] = {}, "
    "[true] = string.rep('L', 300), [{}] = math.mininteger, k = 0/0}",
    "{payload = box({1, point(1, 2), {box('x')}}), n = -1e300}",
    "string.rep('s', 200)",
    "{{{{{{{{{{}}}}}}}}}}",
};

static void test_truncation(void) {
  lua_State *A = new_state(), *B = new_state();
  open_test_types(A);
  open_test_types(B);
  for (size_t s = 0; s < sizeof sample_exprs / sizeof sample_exprs[0]; s++) {
    wbuf out = WBUF_INIT;
    eval(A, sample_exprs[s]);
    lua_pushinteger(A, 5);
    CHECK_EQ(wcodec_encode_n(A, -2, 2, &out, NULL, 0), 0);
    lua_settop(A, 0);
    CHECK_EQ(pdecode_n(B, out.data, out.len), 2);
    lua_settop(B, 0);
    for (size_t k = 0; k < out.len; k++) {
      /* Copy the prefix into an exact-size allocation so ASan catches any over-read. */
      char *prefix = malloc(k ? k : 1);
      memcpy(prefix, out.data, k);
      CHECK_EQ(pdecode_n(B, prefix, k), -1);
      CHECK_EQ(lua_gettop(B), 0);
      /* The single value at offset 1 truncated too. */
      size_t pos = 1;
      if (k > 1) {
        int rc = pdecode(B, prefix, k, &pos);
        CHECK(rc == -1 || (rc == 0 && pos <= k));
        lua_settop(B, 0);
      }
      free(prefix);
    }
    wbuf_free(&out);
  }
  lua_close(A);
  lua_close(B);
}

static uint64_t rng_state = 42;
static uint32_t rng(void) {
  rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
  return (uint32_t)(rng_state >> 33);
}

static void test_corruption(void) {
  lua_State *A = new_state(), *B = new_state();
  open_test_types(A);
  open_test_types(B);
  int decoded = 0, rejected = 0;
  for (size_t s = 0; s < sizeof sample_exprs / sizeof sample_exprs[0]; s++) {
    wbuf out = WBUF_INIT;
    eval(A, sample_exprs[s]);
    CHECK_EQ(wcodec_encode_n(A, -1, 1, &out, NULL, 0), 0);
    lua_settop(A, 0);
    char *buf = malloc(out.len);
    for (int iter = 0; iter < 5000; iter++) {
      memcpy(buf, out.data, out.len);
      int flips = 1 + (int)(rng() % 4);
      for (int f = 0; f < flips; f++) {
        size_t at = rng() % out.len;
        switch (rng() % 3) {
        case 0: buf[at] = (char)rng(); break;
        case 1: buf[at] ^= (char)(1u << (rng() % 8)); break;
        default: buf[at] = (char)(rng() % 2 ? 0xff : 0x00); break;
        }
      }
      int rc = pdecode_n(B, buf, out.len);
      CHECK(rc >= -1);
      if (rc >= 0) decoded++;
      else rejected++;
      lua_settop(B, 0);
    }
    free(buf);
    wbuf_free(&out);
  }
  CHECK(rejected > 0);
  CHECK(decoded > 0);
  /* Pure noise. */
  for (int iter = 0; iter < 20000; iter++) {
    char buf[64];
    size_t n = rng() % sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (char)rng();
    char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    CHECK(pdecode_n(B, exact, n) >= -1);
    lua_settop(B, 0);
    free(exact);
  }
  lua_close(A);
  lua_close(B);
}

static void expect_malformed(const char *bytes, size_t n) {
  lua_State *B = new_state();
  size_t pos = 0;
  char *exact = malloc(n ? n : 1);
  memcpy(exact, bytes, n);
  CHECK_EQ(pdecode(B, exact, n, &pos), -1);
  CHECK_EQ(pos, 0);
  CHECK_EQ(lua_gettop(B), 0);
  free(exact);
  lua_close(B);
}

#define MALFORMED(lit) expect_malformed(lit, sizeof(lit) - 1)

static void test_crafted(void) {
  MALFORMED("");
  MALFORMED("\x09");                                          /* unknown tag */
  MALFORMED("\x3f");                                          /* unknown tag */
  MALFORMED("\x03");                                          /* int without varint */
  MALFORMED("\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02");  /* varint over 64 bits */
  MALFORMED("\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"); /* 11-byte varint */
  MALFORMED("\x04\0\0\0\0\0\0\0");                            /* short float */
  MALFORMED("\x05\x05" "abcd");                               /* string longer than input */
  MALFORMED("\x05\xff\xff\xff\xff\xff\xff\xff\xff\x7f" "a");  /* huge string length */
  MALFORMED("\x43" "ab");                                     /* short string cut */
  MALFORMED("\x06");                                          /* table without count */
  MALFORMED("\x06\x00");                                      /* no terminator */
  MALFORMED("\x06\x02\x81");                                  /* array cut */
  MALFORMED("\x06\x05\x81\x00");                              /* count beyond input */
  MALFORMED("\x06\xff\xff\xff\xff\x0f\x00");                  /* count beyond int */
  MALFORMED("\x06\x02\x81\x00\x00");                          /* nil in the array part */
  MALFORMED("\x06\x00\x81\x00\x00");                          /* nil value in a pair */
  MALFORMED("\x06\x00\x04\0\0\0\0\0\0\xf8\x7f\x81\x00");      /* NaN key */
  MALFORMED("\x06\x00\x81");                                  /* key without value */
  MALFORMED("\x06\x00\x81\x81");                              /* no terminator after pair */
  MALFORMED("\x07");                                          /* custom without id */
  MALFORMED("\x07\x01");                                      /* custom without length */
  MALFORMED("\x07\xee\x00");                                  /* unregistered id */

  /* Table nesting: 100 decodes, 101 does not; a huge depth does not recurse further. */
  lua_State *B = new_state();
  wbuf w = WBUF_INIT;
  for (int depth = 100; depth <= 102; depth++) {
    wbuf_reset(&w);
    for (int i = 0; i < depth - 1; i++) wbuf_append(&w, "\x06\x01", 2);
    wbuf_append(&w, "\x06\x00\x00", 3);
    for (int i = 0; i < depth - 1; i++) wbuf_putc(&w, 0);
    size_t pos = 0;
    CHECK_EQ(pdecode(B, w.data, w.len, &pos), depth <= WCODEC_MAX_DEPTH ? 0 : -1);
    lua_settop(B, 0);
  }
  wbuf_reset(&w);
  for (int i = 0; i < 1000000; i++) wbuf_append(&w, "\x06\x01", 2);
  size_t pos = 0;
  CHECK_EQ(pdecode(B, w.data, w.len, &pos), -1);
  /* A record count beyond the Lua stack limit fails cleanly. */
  wbuf_reset(&w);
  wbuf_append(&w, "\x80\x89\x7a", 3); /* 2000000 values */
  for (int i = 0; i < 2000000; i++) wbuf_putc(&w, 0x80);
  CHECK_EQ(pdecode_n(B, w.data, w.len), -1);
  CHECK_EQ(lua_gettop(B), 0);
  /* Non-canonical but valid: integer 5 via the long form, key 1 in the pair part. */
  wbuf_reset(&w);
  wbuf_append(&w, "\x06\x00\x81\x03\x0a\x00", 6);
  pos = 0;
  CHECK_EQ(pdecode(B, w.data, w.len, &pos), 0);
  char d[64];
  CHECK_STR(dump_at(B, -1, d, sizeof d), "{i1=i5}");
  wbuf_free(&w);
  lua_close(B);
}

static void setup(void) { register_test_types(); }

TEST_MAIN(setup, test_round_trip_scalars, test_round_trip_tables, test_big_values, test_errors,
          test_records, test_format, test_registered_types, test_memory_limit, test_truncation,
          test_corruption, test_crafted)
