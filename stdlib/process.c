/* stdlib/process.c — the `process` global. This file holds the actor's own identity
 * (process.pid); messaging, spawning, links and the registry build on it. */
#include <lauxlib.h>
#include "actors/actor.h"
#include "stdlib/stdlib.h"

static int l_pid(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "wisp.pid");
  return 1;
}

static const luaL_Reg funcs[] = {{"pid", l_pid}, {NULL, NULL}};

int luaopen_wisp_process(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
