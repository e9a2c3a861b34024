/* tests/fuzz/fuzz_json.c — libFuzzer target for json.decode / json.encode (and, on the same
 * bytes, the error codec's werr_decode). For every input:
 *   - json.decode never raises; it accepts exactly what jansson accepts, with equal values
 *     (the fast parser and the jansson path must agree);
 *   - whatever decodes re-encodes, and encode(decode(encode(v))) == encode(v);
 *   - werr_decode either fails cleanly (stack unchanged) or yields an error that re-encodes. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "stdlib/errors.h"
#include "stdlib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fuzz_L;

static void die(const char *what, const uint8_t *data, size_t size) {
  fprintf(stderr, "fuzz_json: %s (input %zu bytes)\n", what, size);
  abort();
}

/* Deep equality of two decoded values, floats bit for bit. */
static int same(lua_State *L, int a, int b, int depth) {
  a = lua_absindex(L, a);
  b = lua_absindex(L, b);
  int t = lua_type(L, a);
  if (t != lua_type(L, b) || depth > 200) return 0;
  if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
    if (lua_isinteger(L, a)) return lua_tointeger(L, a) == lua_tointeger(L, b);
    double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  if (t != LUA_TTABLE) return lua_rawequal(L, a, b);
  lua_checkstack(L, 6);
  size_t na = 0, nb = 0;
  lua_pushnil(L);
  while (lua_next(L, a)) {
    na++;
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    int ok = same(L, -2, -1, depth + 1);
    lua_pop(L, 2);
    if (!ok) {
      lua_pop(L, 1);
      return 0;
    }
  }
  lua_pushnil(L);
  while (lua_next(L, b)) {
    nb++;
    lua_pop(L, 1);
  }
  return na == nb;
}

/* Calls json.<fn>(value at idx); leaves its two results on the stack. */
static void call_json(lua_State *L, const char *fn, int idx) {
  idx = lua_absindex(L, idx);
  lua_getglobal(L, "json");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    fprintf(stderr, "json.%s raised: %s\n", fn, lua_tostring(L, -1));
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fuzz_L) {
    fuzz_L = luaL_newstate();
    luaL_openlibs(fuzz_L);
    luaL_requiref(fuzz_L, "errors", luaopen_wisp_errors, 1);
    luaL_requiref(fuzz_L, "json", luaopen_wisp_json, 1);
  }
  lua_State *L = fuzz_L;
  lua_settop(L, 0);
  lua_pushlstring(L, (const char *)data, size); /* 1 */

  call_json(L, "decode", 1); /* 2 value, 3 err */
  int decoded = lua_isnil(L, 3);

  /* the jansson path alone */
  json_error_t jerr;
  json_t *tree = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  int jok = tree && wjson_push(L, tree); /* 4 when jok */
  json_decref(tree);
  if (!jok) lua_pushnil(L);
  if (decoded != jok) die("fast parser and jansson disagree on validity", data, size);
  if (decoded && !same(L, 2, 4, 0)) die("fast parser and jansson decode differently", data, size);

  if (decoded) {
    call_json(L, "encode", 2); /* 5 text, 6 err */
    if (!lua_isstring(L, 5)) die("a decoded value does not re-encode", data, size);
    call_json(L, "decode", 5); /* 7, 8 */
    if (!lua_isnil(L, 8)) die("encoded text does not decode", data, size);
    if (!same(L, 2, 7, 0)) die("encode/decode changed the value", data, size);
    call_json(L, "encode", 7); /* 9, 10 */
    if (!lua_isstring(L, 9) || !lua_rawequal(L, 5, 9)) die("encoding is not stable", data, size);
  }

  /* the error codec on the same bytes */
  lua_settop(L, 0);
  if (werr_decode(L, (const char *)data, size) == 0) {
    if (lua_gettop(L) != 1 || !werr_is(L, 1)) die("werr_decode pushed no error", data, size);
    wbuf out = WBUF_INIT;
    if (werr_encode(L, 1, &out) != 0) die("a decoded error does not re-encode", data, size);
    wbuf_free(&out);
  } else if (lua_gettop(L) != 0) {
    die("werr_decode failed but left values on the stack", data, size);
  }
  lua_settop(L, 0);
  return 0;
}
