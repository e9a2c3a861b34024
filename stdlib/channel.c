/* stdlib/channel.c — local channels and channel.select (SPEC.md "channel").
 * Go semantics with two deliberate differences: select takes the first ready case in array
 * order (not a random one), and values delivered from outside the actor (timers, messages,
 * WebSocket frames) are never refused: their bound is enforced upstream (back-pressure), so the
 * buffer may exceed the Lua-visible capacity for external channels.
 * Buffer: a ring in a Lua table (uservalue 1), grown by doubling; uservalue 2 anchors the
 * channel's source object; uservalue 3 caches the channel's receive case. */
#include "stdlib/channel.h"
#include <lauxlib.h>
#include <string.h>
#include "actors/actor.h"
#include "actors/task.h"

#define CHAN_MT "wisp.Channel"
#define UV_BUF 1
#define UV_ANCHOR 2
#define UV_RECVCASE 3

struct wchan {
  uint64_t id;    /* 0 until chan_make_external */
  int cap;        /* Lua-side capacity; CHAN_UNBOUNDED never blocks a sender */
  int count;      /* values in the ring */
  int head;       /* index (0-based) of the oldest value */
  int size;       /* ring size (table slots), 0 before the first buffered value */
  bool closed;
  bool external;
  bool drop_when_full;
  chan_take_hook on_take; /* called once per value a receiver takes (back-pressure credits) */
  void *on_take_ud;
  waiter *sendq_head, *sendq_tail;
  waiter *recvq_head, *recvq_tail;
};

/* ---- buffer ring ---- */

static void buf_push_table(lua_State *L, int ci) { lua_getiuservalue(L, ci, UV_BUF); }

/* value on top is appended (popped) */
static void ring_put(lua_State *L, int ci, wchan *c) {
  if (c->count == c->size) {
    int nsize = c->size ? c->size * 2 : (c->cap > 0 && c->cap < 8 ? c->cap : 8);
    if (nsize <= c->count) nsize = c->count + 1;
    lua_createtable(L, nsize, 0);
    if (c->size) {
      buf_push_table(L, ci);
      for (int i = 0; i < c->count; i++) {
        lua_rawgeti(L, -1, (c->head + i) % c->size + 1);
        lua_rawseti(L, -3, i + 1);
      }
      lua_pop(L, 1);
    }
    lua_setiuservalue(L, ci, UV_BUF);
    c->head = 0;
    c->size = nsize;
  }
  buf_push_table(L, ci);
  lua_rotate(L, -2, 1); /* table value */
  lua_rawseti(L, -2, (c->head + c->count) % c->size + 1);
  lua_pop(L, 1);
  c->count++;
}

/* pushes the oldest value */
static void ring_take(lua_State *L, int ci, wchan *c) {
  buf_push_table(L, ci);
  int slot = c->head + 1;
  lua_rawgeti(L, -1, slot);
  lua_pushnil(L);
  lua_rawseti(L, -3, slot);
  lua_remove(L, -2);
  c->head = (c->head + 1) % c->size;
  c->count--;
}

static void ensure_metatable(lua_State *L);

/* ---- completing a waiter of another (blocked) task ---- */

/* Result conventions pushed onto the woken task:
 *   plain receive: value, ok          plain send: true (false = the channel closed)
 *   select: true|false(send on closed), {channel=, value=, ok=} */
static void complete_waiter(lua_State *L, int ci, waiter *w, bool has_value, bool ok) {
  actor *a = actor_of(L);
  wtask *t = w->task;
  if (w->case_index == 0) {
    if (w->is_send) {
      lua_pushboolean(L, ok);
      task_push_results(L, t, 1);
    } else {
      if (!has_value) lua_pushnil(L);
      lua_pushboolean(L, ok);
      task_push_results(L, t, 2);
    }
  } else {
    int vi = lua_gettop(L); /* value, when has_value */
    lua_pushboolean(L, ok || !w->is_send);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, ci);
    lua_setfield(L, -2, "channel");
    if (!w->is_send && has_value) {
      lua_pushvalue(L, vi);
      lua_setfield(L, -2, "value");
    }
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "ok");
    task_push_results(L, t, 2);
    if (has_value) lua_pop(L, 1);
  }
  task_wake(a, t);
}

static waiter *q_first(waiter **head) { return *head; }

/* Returns 1 sent, 0 would block, -1 closed. The value is at vi. */
static int try_send(lua_State *L, int ci, wchan *c, int vi) {
  if (c->closed) return -1;
  waiter *w = q_first(&c->recvq_head);
  if (w) {
    lua_pushvalue(L, vi);
    complete_waiter(L, ci, w, true, true);
    return 1;
  }
  if (c->cap == CHAN_UNBOUNDED || c->count < c->cap) {
    lua_pushvalue(L, vi);
    ring_put(L, ci, c);
    return 1;
  }
  return 0;
}

/* Returns 1 and pushes the value, 0 would block, -1 closed and drained (pushes nothing). */
static int try_recv(lua_State *L, int ci, wchan *c) {
  if (c->count > 0) {
    ring_take(L, ci, c);
    if (c->on_take) c->on_take(L, c->on_take_ud);
    waiter *w = q_first(&c->sendq_head);
    if (w) { /* a blocked sender can now buffer its value */
      lua_rawgeti(L, LUA_REGISTRYINDEX, w->value_ref);
      luaL_unref(L, LUA_REGISTRYINDEX, w->value_ref);
      w->value_ref = LUA_NOREF;
      ring_put(L, ci, c);
      complete_waiter(L, ci, w, false, true);
    }
    return 1;
  }
  waiter *w = q_first(&c->sendq_head);
  if (w) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->value_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, w->value_ref);
    w->value_ref = LUA_NOREF;
    int vi = lua_gettop(L);
    complete_waiter(L, ci, w, false, true);
    lua_settop(L, vi);
    return 1;
  }
  return c->closed ? -1 : 0;
}

static void link_waiter(actor *a, wchan *c, waiter *w, bool send) {
  w->ch = c;
  w->is_send = send;
  w->external = c->external;
  if (send) waitq_push(&c->sendq_head, &c->sendq_tail, w);
  else waitq_push(&c->recvq_head, &c->recvq_tail, w);
  if (w->external) a->ext_waits++;
}

/* ---- C API ---- */

wchan *chan_push_new(lua_State *L, int cap) {
  wchan *c = lua_newuserdatauv(L, sizeof *c, 3);
  memset(c, 0, sizeof *c);
  c->cap = cap;
  ensure_metatable(L);
  luaL_setmetatable(L, CHAN_MT);
  return c;
}

wchan *chan_test(lua_State *L, int idx) { return luaL_testudata(L, idx, CHAN_MT); }
wchan *chan_check(lua_State *L, int idx) { return luaL_checkudata(L, idx, CHAN_MT); }
bool chan_is_closed(wchan *c) { return c->closed; }
int chan_count(wchan *c) { return c->count; }

static void push_id_table(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)&push_id_table) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&push_id_table);
}

uint64_t chan_make_external(lua_State *L, int idx, bool drop_when_full) {
  idx = lua_absindex(L, idx);
  wchan *c = chan_check(L, idx);
  actor *a = actor_of(L);
  if (!c->id) {
    c->id = ++a->next_chan_id;
    push_id_table(L);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, (lua_Integer)c->id);
    lua_pop(L, 1);
  }
  c->external = true;
  c->drop_when_full = drop_when_full;
  return c->id;
}

void chan_push_by_id(lua_State *L, uint64_t id) {
  push_id_table(L);
  lua_rawgeti(L, -1, (lua_Integer)id);
  lua_remove(L, -2);
}

void chan_deliver(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  wchan *c = chan_check(L, idx);
  int vi = lua_gettop(L);
  if (c->closed) { lua_pop(L, 1); return; }
  waiter *w = q_first(&c->recvq_head);
  if (w) {
    complete_waiter(L, idx, w, true, true);
    lua_settop(L, vi - 1);
    if (c->on_take) c->on_take(L, c->on_take_ud);
    return;
  }
  if (c->drop_when_full && c->count >= (c->cap > 0 ? c->cap : 1)) { lua_pop(L, 1); return; }
  ring_put(L, idx, c);
}

void chan_close(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  wchan *c = chan_check(L, idx);
  if (c->closed) return;
  c->closed = true;
  waiter *w;
  /* task_wake unlinks every waiter of the woken task, so each loop makes progress */
  while ((w = q_first(&c->recvq_head)) != NULL) complete_waiter(L, idx, w, false, false);
  while ((w = q_first(&c->sendq_head)) != NULL) complete_waiter(L, idx, w, false, false);
}

void chan_set_take_hook(wchan *c, chan_take_hook fn, void *ud) {
  c->on_take = fn;
  c->on_take_ud = ud;
}

void chan_set_anchor(lua_State *L, int idx, int obj_idx) {
  idx = lua_absindex(L, idx);
  lua_pushvalue(L, obj_idx);
  lua_setiuservalue(L, idx, UV_ANCHOR);
}

/* ---- Lua API ---- */

static void check_can_block(lua_State *L, const char *what) {
  actor *a = actor_of(L);
  if (!a || !a->current || !lua_isyieldable(L))
    luaL_error(L, "%s would block here (outside a coroutine the actor schedules, or inside a C "
                  "function such as table.sort or a metamethod)", what);
}

static int l_new(lua_State *L) {
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, cap >= 0 && cap <= 1000000000, 1, "capacity must be between 0 and 1000000000");
  chan_push_new(L, (int)cap);
  return 1;
}

static int k_send(lua_State *L, int status, lua_KContext ctx) {
  if (!lua_toboolean(L, -1)) return luaL_error(L, "send on a closed channel");
  return 1;
}

static int l_send(lua_State *L) {
  wchan *c = chan_check(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  int r = try_send(L, 1, c, 2);
  if (r < 0) return luaL_error(L, "send on a closed channel");
  if (r > 0) { lua_pushboolean(L, 1); return 1; }
  check_can_block(L, "channel:send");
  actor *a = actor_of(L);
  waiter *w = task_block_begin(a, 1);
  lua_pushvalue(L, 2);
  w->value_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  link_waiter(a, c, w, true);
  return task_block(L, k_send, 0);
}

static int k_receive(lua_State *L, int status, lua_KContext ctx) { return 2; }

static int l_receive(lua_State *L) {
  wchan *c = chan_check(L, 1);
  lua_settop(L, 1);
  int r = try_recv(L, 1, c);
  if (r > 0) { lua_pushboolean(L, 1); return 2; }
  if (r < 0) { lua_pushnil(L); lua_pushboolean(L, 0); return 2; }
  check_can_block(L, "channel:receive");
  actor *a = actor_of(L);
  link_waiter(a, c, task_block_begin(a, 1), false);
  return task_block(L, k_receive, 0);
}

static int l_close(lua_State *L) {
  chan_check(L, 1);
  chan_close(L, 1);
  return 0;
}

/* A case is a table {channel, is_send, value}; receive cases are cached per channel. */
static int l_case_receive(lua_State *L) {
  chan_check(L, 1);
  if (lua_getiuservalue(L, 1, UV_RECVCASE) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushboolean(L, 0);
  lua_rawseti(L, -2, 2);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, 1, UV_RECVCASE);
  return 1;
}

static int l_case_send(lua_State *L) {
  chan_check(L, 1);
  luaL_checkany(L, 2);
  lua_createtable(L, 3, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushboolean(L, 1);
  lua_rawseti(L, -2, 2);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 3);
  return 1;
}

static void push_select_result(lua_State *L, int ci, int vi, bool ok) {
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, ci);
  lua_setfield(L, -2, "channel");
  if (vi) {
    lua_pushvalue(L, vi);
    lua_setfield(L, -2, "value");
  }
  lua_pushboolean(L, ok);
  lua_setfield(L, -2, "ok");
}

static int k_select(lua_State *L, int status, lua_KContext ctx) {
  if (!lua_toboolean(L, -2)) return luaL_error(L, "channel.select: send on a closed channel");
  return 1;
}

#define SELECT_MAX 4096

static int l_select(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  bool dflt = false;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    dflt = lua_toboolean(L, 2);
  }
  lua_settop(L, 1);
  if (lua_getfield(L, 1, "default") != LUA_TNIL) {
    if (!lua_isboolean(L, -1)) return luaL_error(L, "channel.select: 'default' must be a boolean");
    dflt = dflt || lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n > SELECT_MAX) return luaL_error(L, "channel.select: more than %d cases", SELECT_MAX);
  if (n == 0 && !dflt) return luaL_error(L, "channel.select: no cases and no default");
  luaL_checkstack(L, (int)n * 2 + 8, "channel.select");
  /* pass 1: validate and take the first ready case, in array order */
  int base = lua_gettop(L); /* cases go to base+1..base+n as (channel) pairs via the case table */
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
      return luaL_error(L, "channel.select: case %d is not a case (use ch:case_receive() or ch:case_send(v))", (int)i);
    int cs = lua_gettop(L);
    lua_rawgeti(L, cs, 1);
    wchan *c = chan_test(L, -1);
    if (!c) return luaL_error(L, "channel.select: case %d has no channel", (int)i);
    int ci = lua_gettop(L);
    bool is_send = lua_rawgeti(L, cs, 2) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (is_send) {
      lua_rawgeti(L, cs, 3);
      int r = try_send(L, ci, c, lua_gettop(L));
      if (r < 0) return luaL_error(L, "channel.select: send on a closed channel (case %d)", (int)i);
      if (r > 0) { push_select_result(L, ci, 0, true); return 1; }
    } else {
      int r = try_recv(L, ci, c);
      if (r > 0) { push_select_result(L, ci, lua_gettop(L), true); return 1; }
      if (r < 0) { push_select_result(L, ci, 0, false); return 1; }
    }
    lua_settop(L, base);
  }
  if (dflt) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "default");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
  }
  check_can_block(L, "channel.select");
  /* pass 2: park one waiter per case; the cases table (arg 1) keeps every channel alive */
  actor *a = actor_of(L);
  waiter *ws = task_block_begin(a, (int)n);
  for (lua_Integer i = 1; i <= n; i++) {
    int top = lua_gettop(L);
    lua_rawgeti(L, 1, i);
    lua_rawgeti(L, -1, 1);
    wchan *c = chan_test(L, -1);
    bool is_send = lua_rawgeti(L, -2, 2) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    waiter *w = &ws[i - 1];
    w->case_index = (int)i;
    if (is_send) {
      lua_rawgeti(L, -3, 3);
      w->value_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    link_waiter(a, c, w, is_send);
    /* keep the channel on this (suspended) stack: it must outlive its linked waiter even if
     * another task edits the cases table meanwhile */
    lua_pushvalue(L, top + 2);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
  }
  return task_block(L, k_select, 0);
}

static int l_tostring(lua_State *L) {
  wchan *c = chan_check(L, 1);
  lua_pushfstring(L, "channel: %p (%d/%d%s)", (void *)c, c->count, c->cap, c->closed ? ", closed" : "");
  return 1;
}

static int l_len(lua_State *L) {
  lua_pushinteger(L, chan_check(L, 1)->count);
  return 1;
}

static const luaL_Reg chan_methods[] = {
    {"send", l_send}, {"receive", l_receive}, {"close", l_close},
    {"case_send", l_case_send}, {"case_receive", l_case_receive}, {NULL, NULL}};


static void ensure_metatable(lua_State *L) {
  if (luaL_newmetatable(L, CHAN_MT)) {
    luaL_newlib(L, chan_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_len);
    lua_setfield(L, -2, "__len");
    lua_pushliteral(L, "channel");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

static const luaL_Reg chan_funcs[] = {{"new", l_new}, {"select", l_select}, {NULL, NULL}};

int luaopen_wisp_channel(lua_State *L) {
  ensure_metatable(L);
  luaL_newlib(L, chan_funcs);
  return 1;
}
