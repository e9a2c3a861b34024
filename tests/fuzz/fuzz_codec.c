/* tests/fuzz/fuzz_codec.c — libFuzzer target for core/codec: arbitrary bytes are decoded as a
 * record into a memory-limited lua_State under lua_pcall (never crash, never read out of bounds,
 * leave the stack balanced); whatever decodes must re-encode and decode again to as many values.
 * A registered type whose hooks nest the codec exercises the hook paths. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "core/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOX_MT "fuzz.box"

static size_t mem_used;
static const size_t mem_max = (size_t)64 << 20;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    mem_used -= old;
    return NULL;
  }
  if (nsize > old && mem_used + (nsize - old) > mem_max) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) mem_used = mem_used - old + nsize;
  return p;
}

static int box_enc(lua_State *L, int idx, wbuf *out) {
  lua_getfield(L, idx, "v");
  int rc = wcodec_encode(L, -1, out, NULL, 0);
  lua_pop(L, 1);
  return rc;
}

static int box_dec(lua_State *L, const char *p, size_t len) {
  size_t pos = 0;
  lua_createtable(L, 0, 1);
  if (wcodec_decode(L, p, len, &pos) != 0 || pos != len) return -1;
  lua_setfield(L, -2, "v");
  luaL_setmetatable(L, BOX_MT);
  return 0;
}

typedef struct call {
  const char *p;
  size_t len;
  int rc;
} call;

static int decode_protected(lua_State *L) {
  call *c = lua_touserdata(L, 1);
  lua_pop(L, 1);
  c->rc = wcodec_decode_n(L, c->p, c->len);
  return c->rc < 0 ? 0 : c->rc;
}

/* Decodes under lua_pcall; returns the count (values left on the stack), -1, or -2 on error. */
static int pdecode(lua_State *L, const char *p, size_t len) {
  call c = {p, len, -1};
  int top = lua_gettop(L);
  lua_pushcfunction(L, decode_protected);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    lua_settop(L, top);
    return -2;
  }
  if (lua_gettop(L) - top != (c.rc < 0 ? 0 : c.rc)) abort();
  return c.rc;
}

static lua_State *state(void) {
  static lua_State *L;
  if (!L) {
    wcodec_register_type(1, BOX_MT, box_enc, box_dec);
    L = lua_newstate(limited_alloc, NULL);
    luaL_newmetatable(L, BOX_MT);
    lua_pop(L, 1);
  }
  return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = state();
  /* An exact-size copy, so any over-read hits the sanitizer. */
  char *buf = malloc(size ? size : 1);
  if (size) memcpy(buf, data, size);
  int n = pdecode(L, buf, size);
  if (n >= 0) {
    wbuf out = WBUF_INIT;
    if (wcodec_encode_n(L, 1, n, &out, NULL, 0) != 0) abort();
    lua_settop(L, 0);
    int m = pdecode(L, out.data ? out.data : "", out.len);
    if (m != n && m != -2) abort();
    wbuf_free(&out);
  }
  if (lua_gettop(L) > 0 && n < 0) abort();
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  free(buf);
  return 0;
}
