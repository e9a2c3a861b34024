/* stdlib/coroutine.c — the `coroutine` global: Lua's library plus coroutine.spawn, with resume
 * and wrap replaced so that a scheduler block (channel wait, sleep, network) or a preemption
 * inside a user coroutine suspends the whole task rather than returning to the user's resume.
 * The yield is propagated upwards and, when the task is resumed, passed back down unchanged. */
#include <lauxlib.h>
#include <lualib.h>
#include "actors/actor.h"
#include "actors/task.h"
#include "stdlib/stdlib.h"

int luaopen_wisp_coroutine(lua_State *L);

static bool is_block_yield(lua_State *co, int nres) {
  return nres == 1 && lua_touserdata(co, -1) == (void *)&task_block_marker;
}

/* mode 0: coroutine.resume (returns true, ... / false, err); mode 1: wrap (raises) */
static int resume_loop(lua_State *L, lua_State *co, int narg, int mode);

static int resume_k(lua_State *L, int status, lua_KContext ctx) {
  int mode = (int)ctx;
  lua_State *co = mode ? lua_tothread(L, lua_upvalueindex(1)) : lua_tothread(L, 1);
  int base = mode ? 0 : 1;
  int narg = lua_gettop(L) - base;
  lua_xmove(L, co, narg);
  return resume_loop(L, co, narg, mode);
}

static int resume_loop(lua_State *L, lua_State *co, int narg, int mode) {
  actor *a = actor_of(L);
  for (;;) {
    int nres;
    int st = lua_resume(co, L, narg, &nres);
    if (st == LUA_YIELD) {
      bool block = is_block_yield(co, nres);
      bool preempt = !block && nres == 0 && a && a->preempted;
      if (block || preempt) {
        lua_pop(co, nres);
        if (!lua_isyieldable(L)) {
          if (preempt) { a->preempted = false; narg = 0; continue; } /* cannot pass it up: go on */
          task_cancel_block(a, a->current);
          a->current->state = TASK_RUNNING;
          lua_pushliteral(L, "cannot block inside a coroutine resumed from a C function "
                             "(such as table.sort or a metamethod)");
          if (mode) return lua_error(L);
          lua_pushboolean(L, 0);
          lua_insert(L, -2);
          return 2;
        }
        if (block) {
          lua_pushlightuserdata(L, &task_block_marker);
          return lua_yieldk(L, 1, (lua_KContext)mode, resume_k);
        }
        return lua_yieldk(L, 0, (lua_KContext)mode, resume_k);
      }
    }
    if (st == LUA_OK || st == LUA_YIELD) {
      if (!lua_checkstack(L, nres + 1)) {
        lua_pop(co, nres);
        return luaL_error(L, "too many results to resume");
      }
      if (!mode) lua_pushboolean(L, 1);
      lua_xmove(co, L, nres);
      return nres + (mode ? 0 : 1);
    }
    lua_xmove(co, L, 1); /* error object */
    if (mode) {
      if (st != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) { /* add position like lcorolib */
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
      }
      lua_resetthread(co);
      return lua_error(L);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
}

static int check_resumable(lua_State *L, lua_State *co) {
  if (L == co) return luaL_error(L, "cannot resume non-suspended coroutine");
  actor *a = actor_of(L);
  if (a && task_of_thread(L, co)) return luaL_error(L, "cannot resume a coroutine that the actor schedules (started by coroutine.spawn)");
  int st = lua_status(co);
  if (st == LUA_OK && lua_gettop(co) == 0) return luaL_error(L, "cannot resume dead coroutine");
  if (st != LUA_OK && st != LUA_YIELD) return luaL_error(L, "cannot resume dead coroutine");
  if (st == LUA_OK) {
    lua_Debug ar;
    if (lua_getstack(co, 0, &ar)) return luaL_error(L, "cannot resume non-suspended coroutine");
  }
  return 0;
}

static int l_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  int st = lua_status(co);
  if (L == co || (st == LUA_OK && lua_gettop(co) == 0) || (st != LUA_OK && st != LUA_YIELD)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, L == co ? "cannot resume non-suspended coroutine" : "cannot resume dead coroutine");
    return 2;
  }
  check_resumable(L, co);
  int narg = lua_gettop(L) - 1;
  if (!lua_checkstack(co, narg)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "too many arguments to resume");
    return 2;
  }
  lua_xmove(L, co, narg);
  return resume_loop(L, co, narg, 0);
}

static int l_wrapped(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  check_resumable(L, co);
  int narg = lua_gettop(L);
  if (!lua_checkstack(co, narg)) return luaL_error(L, "too many arguments to resume");
  lua_xmove(L, co, narg);
  return resume_loop(L, co, narg, 1);
}

static int l_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, l_wrapped, 1);
  return 1;
}

static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  actor *a = actor_of(L);
  if (!a) return luaL_error(L, "coroutine.spawn: no actor");
  task_new(a, L, lua_gettop(L) - 1);
  return 0;
}

int luaopen_wisp_coroutine(lua_State *L) {
  luaopen_coroutine(L);
  lua_pushcfunction(L, l_resume);
  lua_setfield(L, -2, "resume");
  lua_pushcfunction(L, l_wrap);
  lua_setfield(L, -2, "wrap");
  lua_pushcfunction(L, l_spawn);
  lua_setfield(L, -2, "spawn");
  return 1;
}
