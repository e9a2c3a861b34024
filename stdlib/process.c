/* stdlib/process.c — the `process` global (SPEC.md "process"): identity, messages, spawning,
 * links and monitors, cancellation, the name registry. Messages and events arrive as mailbox
 * entries and are turned into values of local channels: the inbox, per-topic listeners and
 * the events channel, all created on first use (a message that arrives before process.inbox()
 * is kept in the inbox all the same).
 * Decision: an actor that never called process.events() cannot observe a CANCEL, so a CANCEL
 * ends it at once (as terminate does); an actor that listens gets the event and decides. */
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "actors/actor.h"
#include "actors/sandbox.h"
#include "actors/chunks.h"
#include "actors/links.h"
#include "actors/names.h"
#include "core/codec.h"
#include "stdlib/channel.h"
#include "stdlib/errors.h"
#include "stdlib/process.h"
#include "stdlib/stdlib.h"

#define MSG_MT "wisp.Message"
#define PAYLOAD_MT "wisp.Payload"
#define EV_EXIT_NAME "pid.exit"
#define EV_LINK_DOWN_NAME "pid.link.down"
#define EV_CANCEL_NAME "pid.cancel"

static void *(*sec_retain)(void *ctx);
void process_set_security_retain(void *(*fn)(void *ctx)) { sec_retain = fn; }
static process_checker checker;
void process_set_checker(process_checker fn) { checker = fn; }

/* Returns 0 when allowed; otherwise pushes nil, err and returns 2. An actor without a security
 * context runs with the operator scope: nothing to ask. */
static int check(lua_State *L, const char *action, const char *resource) {
  return checker && actor_of(L)->security ? checker(L, action, resource) : 0;
}

static void push_pid(lua_State *L, uint64_t pid) {
  char buf[32];
  actor_format_pid(pid, buf, sizeof buf);
  lua_pushstring(L, buf);
}

/* Resolves a pid string or registered name at idx. 0 with *pid set, or pushes nil, err and
 * returns 2. Raises for a wrong type. */
static int resolve_dest(lua_State *L, int idx, const char *fname, uint64_t *pid) {
  size_t len;
  if (lua_type(L, idx) != LUA_TSTRING)
    return luaL_error(L, "bad argument #%d to '%s' (pid or registered name expected, got %s)", idx, fname,
                      luaL_typename(L, idx));
  const char *s = lua_tolstring(L, idx, &len);
  if (len && s[0] == '<') {
    if (!actor_parse_pid(s, len, pid)) return werr_fail(L, WERR_INVALID, false, "%s: malformed pid \"%s\"", fname, s);
    return 0;
  }
  *pid = names_lookup(s);
  if (!*pid) return werr_fail(L, WERR_NOT_FOUND, false, "%s: no process is registered as \"%s\"", fname, s);
  return 0;
}

/* ---- channels of the actor ---- */

static void push_special_channel(lua_State *L, const char *key) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TUSERDATA) return;
  lua_pop(L, 1);
  chan_push_new(L, CHAN_UNBOUNDED);
  chan_make_external(L, -1, false);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}

static void push_listeners(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "wisp.listeners") == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "wisp.listeners");
}

/* ---- messages ---- */

/* MB_MESSAGE data: from u64, topic length u32, topic, codec record */
static void open_types(lua_State *L);

static void on_message(lua_State *L, actor *a, mbox_entry *e) {
  uint64_t from;
  uint32_t tl;
  if (e->len < 12) return;
  memcpy(&from, e->data, 8);
  memcpy(&tl, e->data + 8, 4);
  if (tl > e->len - 12) return;
  const char *topic = e->data + 12;
  const char *rec = topic + tl;
  size_t reclen = e->len - 12 - tl;
  int top = lua_gettop(L);
  open_types(L); /* a message can arrive before the actor first touches `process` */
  /* route: a listener for the topic, else the inbox */
  push_listeners(L);
  lua_pushlstring(L, topic, tl);
  bool as_message = true;
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    lua_rawgeti(L, -1, 2);
    as_message = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 1);
  } else {
    lua_pop(L, 1);
    push_special_channel(L, "wisp.inbox");
  }
  int ci = lua_gettop(L);
  int n = wcodec_decode_n(L, rec, reclen);
  if (n < 0) { lua_settop(L, top); return; }
  if (!as_message) {
    lua_settop(L, ci + (n > 0 ? 1 : 0));
    if (n == 0) lua_pushnil(L);
  } else {
    /* payload: {n = n, values...} */
    lua_createtable(L, n, 1);
    lua_insert(L, ci + 1);
    for (int i = n; i >= 1; i--) lua_rawseti(L, ci + 1, i);
    lua_pushinteger(L, n);
    lua_setfield(L, ci + 1, "n");
    luaL_setmetatable(L, PAYLOAD_MT);
    /* fields live at array slots so they never shadow the methods */
    lua_createtable(L, 3, 0);
    lua_pushlstring(L, topic, tl);
    lua_rawseti(L, -2, 1);
    push_pid(L, from);
    lua_rawseti(L, -2, 2);
    lua_pushvalue(L, ci + 1);
    lua_rawseti(L, -2, 3);
    luaL_setmetatable(L, MSG_MT);
    lua_remove(L, ci + 1);
  }
  chan_deliver(L, ci);
  lua_settop(L, top);
}

static int msg_field(lua_State *L, int slot) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_rawgeti(L, 1, slot);
  return 1;
}
static int msg_topic(lua_State *L) { return msg_field(L, 1); }
static int msg_from(lua_State *L) { return msg_field(L, 2); }
static int msg_payload(lua_State *L) { return msg_field(L, 3); }
static int payload_data(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "n");
  lua_Integer n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (n <= 0) { lua_pushnil(L); return 1; }
  luaL_checkstack(L, (int)n, "payload");
  for (lua_Integer i = 1; i <= n; i++) lua_rawgeti(L, 1, i);
  return (int)n;
}

static void open_types(lua_State *L) {
  static const luaL_Reg msg_m[] = {{"topic", msg_topic}, {"from", msg_from}, {"payload", msg_payload}, {NULL, NULL}};
  static const luaL_Reg pay_m[] = {{"data", payload_data}, {NULL, NULL}};
  if (luaL_newmetatable(L, MSG_MT)) {
    luaL_newlib(L, msg_m);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, PAYLOAD_MT)) {
    luaL_newlib(L, pay_m);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

static int l_send(lua_State *L) {
  actor *a = actor_of(L);
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.send", &pid);
  if (r) return r;
  size_t tl;
  const char *topic = luaL_checklstring(L, 2, &tl);
  if (tl == 0) return werr_fail(L, WERR_INVALID, false, "process.send: the topic must not be empty");
  if (topic[0] == '@') return werr_fail(L, WERR_INVALID, false, "process.send: topics starting with '@' are reserved (\"%s\")", topic);
  if (tl > UINT32_MAX / 2) return werr_fail(L, WERR_INVALID, false, "process.send: topic too long");
  char target[32];
  actor_format_pid(pid, target, sizeof target);
  if ((r = check(L, "process.send", target))) return r;
  wbuf b = WBUF_INIT;
  wbuf_append(&b, &a->pid, 8);
  uint32_t tl32 = (uint32_t)tl;
  wbuf_append(&b, &tl32, 4);
  wbuf_append(&b, topic, tl);
  char err[256];
  if (wcodec_encode_n(L, 3, lua_gettop(L) - 2, &b, err, sizeof err) != 0) {
    wbuf_free(&b);
    return werr_fail(L, WERR_INVALID, false, "process.send: %s", err);
  }
  actor *t = actor_lookup(pid);
  if (!t) {
    wbuf_free(&b);
    return werr_fail(L, WERR_NOT_FOUND, false, "process.send: process %s is not running", target);
  }
  mbox_entry *e = mbox_entry_new(MB_MESSAGE, 0, 0, b.data, b.len);
  wbuf_free(&b);
  bool ok = mbox_post(&t->mb, e);
  actor_release(t);
  if (!ok) return werr_fail(L, WERR_NOT_FOUND, false, "process.send: process %s is not running", target);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- events ---- */

static const char *event_name(int kind) {
  return kind == EV_EXIT ? EV_EXIT_NAME : kind == EV_LINK_DOWN ? EV_LINK_DOWN_NAME : EV_CANCEL_NAME;
}

/* Pushes the event table for ev. */
static void push_event(lua_State *L, const proc_event *ev) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, event_name(ev->kind));
  lua_setfield(L, -2, "kind");
  push_pid(L, ev->from);
  lua_setfield(L, -2, "from");
  if (ev->reason_len || ev->kind != EV_EXIT) {
    lua_pushlstring(L, ev->reason, ev->reason_len);
    lua_setfield(L, -2, "reason");
  }
  if (ev->kind == EV_EXIT) {
    lua_createtable(L, 0, 2);
    if (ev->result_len) {
      int top = lua_gettop(L);
      int n = wcodec_decode_n(L, ev->result, ev->result_len);
      if (n > 0) {
        lua_settop(L, top + 1);
        lua_setfield(L, top, "value");
      }
      lua_settop(L, top);
    }
    if (ev->has_error) {
      char kind[64];
      size_t kl = ev->err_kind_len < sizeof kind - 1 ? ev->err_kind_len : sizeof kind - 1;
      memcpy(kind, ev->err_kind, kl);
      kind[kl] = 0;
      werr_push(L, kind, false, "%.*s", (int)ev->reason_len, ev->reason_len ? ev->reason : "failed");
      lua_setfield(L, -2, "error");
    }
    lua_setfield(L, -2, "result");
  }
}

static void on_event(lua_State *L, actor *a, mbox_entry *e) {
  proc_event ev;
  if (!proc_event_decode(e->data, e->len, &ev)) return;
  int top = lua_gettop(L);
  if (ev.kind == EV_LINK_DOWN && !a->trap_links) {
    char msg[512];
    char from[32];
    actor_format_pid(ev.from, from, sizeof from);
    snprintf(msg, sizeof msg, "linked process %s failed: %.*s", from, (int)(ev.reason_len > 400 ? 400 : ev.reason_len), ev.reason);
    actor_fail(a, EXIT_ERROR, msg);
    return;
  }
  if (ev.kind == EV_CANCEL && !a->events_requested) {
    char msg[512];
    snprintf(msg, sizeof msg, "canceled%s%.*s", ev.reason_len ? ": " : "", (int)(ev.reason_len > 400 ? 400 : ev.reason_len), ev.reason);
    actor_fail(a, EXIT_TERMINATED, msg);
    return;
  }
  if (e->target) {
    chan_push_by_id(L, e->target);
    if (lua_isnil(L, -1)) { lua_settop(L, top); return; }
  } else {
    push_special_channel(L, "wisp.events");
  }
  int ci = lua_gettop(L);
  push_event(L, &ev);
  chan_deliver(L, ci);
  lua_settop(L, top);
}

static int l_events(lua_State *L) {
  actor_of(L)->events_requested = true;
  push_special_channel(L, "wisp.events");
  return 1;
}

static int l_inbox(lua_State *L) {
  push_special_channel(L, "wisp.inbox");
  return 1;
}

static int l_listen(lua_State *L) {
  size_t tl;
  const char *topic = luaL_checklstring(L, 1, &tl);
  bool as_message = false;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "message") != 0)
        return werr_fail(L, WERR_INVALID, false, "process.listen: unknown option \"%s\" (allowed: message)", luaL_tolstring(L, -2, NULL));
      if (!lua_isboolean(L, -1)) return werr_fail(L, WERR_INVALID, false, "process.listen: option message must be a boolean");
      as_message = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
  if (tl == 0 || topic[0] == '@') return werr_fail(L, WERR_INVALID, false, "process.listen: invalid topic \"%s\"", topic);
  push_listeners(L);
  lua_pushvalue(L, 1);
  if (lua_rawget(L, -2) != LUA_TNIL) return werr_fail(L, WERR_ALREADY_EXISTS, false, "process.listen: already listening to \"%s\"", topic);
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_createtable(L, 2, 0);
  chan_push_new(L, CHAN_UNBOUNDED);
  chan_make_external(L, -1, false);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, 1);
  lua_pushboolean(L, as_message);
  lua_rawseti(L, -3, 2);
  lua_insert(L, -3); /* channel below topic, entry */
  lua_rawset(L, -4);
  return 1;
}

static int l_unlisten(lua_State *L) {
  chan_check(L, 1);
  push_listeners(L);
  int lt = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, lt)) {
    lua_rawgeti(L, -1, 1);
    bool same = lua_rawequal(L, -1, 1);
    lua_pop(L, 2);
    if (same) {
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, lt);
      chan_close(L, 1);
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  return werr_fail(L, WERR_NOT_FOUND, false, "process.unlisten: the channel is not a listener");
}

/* ---- spawning ---- */

enum { SPAWN_MONITOR = 1, SPAWN_LINK = 2 };

static int exec_file_resolver(actor *parent, const char *id, const char *host, actor_config *cfg,
                              char *path_buf, size_t path_len, char *err, size_t errlen) {
  const char *rel = id + 7;
  if (!*rel) {
    snprintf(err, errlen, "empty file:// id");
    return 1;
  }
  if (rel[0] == '/' || !parent->base_dir) snprintf(path_buf, path_len, "%s", rel);
  else snprintf(path_buf, path_len, "%s/%s", parent->base_dir, rel);
  size_t len;
  const char *code = chunks_file(path_buf, &len, err, errlen);
  if (!code) return 2;
  cfg->chunk = code;
  cfg->chunk_len = len;
  cfg->chunk_is_binary = true;
  cfg->chunk_name = NULL;
  cfg->entry_id = id;
  cfg->exec_mode = true;
  cfg->base_dir = parent->base_dir;
  return 0;
}

/* Spawns per flags; on success pushes the pid. Otherwise pushes nil, err (returns 2). */
static int do_spawn(lua_State *L, const char *fname, int flags, uint64_t monitor_chan, int last, uint64_t *out_pid) {
  actor *a = actor_of(L);
  const char *id = luaL_checkstring(L, 1);
  const char *host = last >= 2 ? luaL_optstring(L, 2, NULL) : NULL;
  int r;
  if ((r = check(L, "process.spawn", id))) return r;
  if (host && (r = check(L, "process.host", host))) return r;
  actor_config cfg = {0};
  char err[1024], path[4096];
  int rc;
  if (strncmp(id, "file://", 7) == 0) {
    if (!a->exec_mode)
      return werr_fail(L, WERR_INVALID, false, "%s: file:// ids only work under wisp exec; spawn an entry id (ns:name)", fname);
    rc = exec_file_resolver(a, id, host, &cfg, path, sizeof path, err, sizeof err);
  } else if (actor_get_resolver()) {
    rc = actor_get_resolver()(a, id, host, &cfg, err, sizeof err);
  } else {
    snprintf(err, sizeof err, "unknown process \"%s\" (no app is loaded; under wisp exec use file://path.lua)", id);
    rc = 1;
  }
  if (rc == 1) return werr_fail(L, WERR_NOT_FOUND, false, "%s: %s", fname, err);
  if (rc) return werr_fail(L, WERR_INVALID, false, "%s: %s", fname, err);
  wbuf args = WBUF_INIT;
  if (wcodec_encode_n(L, 3, last > 2 ? last - 2 : 0, &args, err, sizeof err) != 0) {
    wbuf_free(&args);
    return werr_fail(L, WERR_INVALID, false, "%s: %s", fname, err);
  }
  cfg.args = args.data;
  cfg.args_len = args.len;
  cfg.parent = a->pid;
  if (flags & SPAWN_LINK) cfg.link_to = a->pid;
  if (flags & SPAWN_MONITOR) {
    cfg.monitor_by = a->pid;
    cfg.monitor_chan = monitor_chan;
  }
  cfg.security = a->security && sec_retain ? sec_retain(a->security) : NULL;
  actor *child = actor_spawn(&cfg, err, sizeof err);
  wbuf_free(&args);
  if (!child) return werr_fail(L, WERR_INVALID, false, "%s: %s", fname, err);
  *out_pid = child->pid;
  actor_release(child);
  push_pid(L, *out_pid);
  return 1;
}

static int spawn_with(lua_State *L, const char *fname, int flags) {
  uint64_t pid;
  return do_spawn(L, fname, flags, 0, lua_gettop(L), &pid);
}

static int l_spawn(lua_State *L) { return spawn_with(L, "process.spawn", 0); }
static int l_spawn_monitored(lua_State *L) { return spawn_with(L, "process.spawn_monitored", SPAWN_MONITOR); }
static int l_spawn_linked(lua_State *L) { return spawn_with(L, "process.spawn_linked", SPAWN_LINK); }
static int l_spawn_linked_monitored(lua_State *L) {
  return spawn_with(L, "process.spawn_linked_monitored", SPAWN_LINK | SPAWN_MONITOR);
}

static int k_exec(lua_State *L, int status, lua_KContext ctx) {
  /* stack top: event, ok */
  lua_pop(L, 1);
  if (!lua_istable(L, -1)) return werr_fail(L, WERR_INTERNAL, false, "process.exec: no exit event");
  lua_getfield(L, -1, "result");
  lua_getfield(L, -1, "error");
  if (!lua_isnil(L, -1)) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "value");
  return 1;
}

static int l_exec(lua_State *L) {
  int last = lua_gettop(L);
  /* the EXIT event comes to a private channel, which the waiting task keeps alive */
  chan_push_new(L, 1);
  uint64_t chan = chan_make_external(L, -1, false);
  int ci = lua_gettop(L);
  uint64_t pid;
  int r = do_spawn(L, "process.exec", SPAWN_MONITOR, chan, last, &pid);
  if (r == 2) return 2;
  lua_settop(L, ci);
  lua_getfield(L, ci, "receive");
  lua_pushvalue(L, ci);
  lua_callk(L, 1, 2, 0, k_exec);
  return k_exec(L, LUA_OK, 0);
}

/* ---- control ---- */

static int l_cancel(lua_State *L) {
  actor *a = actor_of(L);
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.cancel", &pid);
  if (r) return r;
  const char *reason = luaL_optstring(L, 2, "");
  char target[32];
  actor_format_pid(pid, target, sizeof target);
  if ((r = check(L, "process.cancel", target))) return r;
  if (!links_cancel(a->pid, pid, reason))
    return werr_fail(L, WERR_NOT_FOUND, false, "process.cancel: process %s is not running", target);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_terminate(lua_State *L) {
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.terminate", &pid);
  if (r) return r;
  char target[32];
  actor_format_pid(pid, target, sizeof target);
  if ((r = check(L, "process.terminate", target))) return r;
  actor *t = actor_lookup(pid);
  if (!t) return werr_fail(L, WERR_NOT_FOUND, false, "process.terminate: process %s is not running", target);
  if (t == actor_of(L)) {
    actor_release(t);
    actor_fail(actor_of(L), EXIT_TERMINATED, "terminated");
    return luaL_error(L, "terminated");
  }
  actor_terminate(t);
  actor_release(t);
  lua_pushboolean(L, 1);
  return 1;
}

static void push_monitors(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "wisp.monitors") == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "wisp.monitors");
}

static int l_monitor(lua_State *L) {
  actor *a = actor_of(L);
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.monitor", &pid);
  if (r) return r;
  char target[32];
  actor_format_pid(pid, target, sizeof target);
  if ((r = check(L, "process.monitor", target))) return r;
  uint64_t ref = links_monitor(a->pid, pid, 0);
  push_monitors(L);
  lua_pushinteger(L, (lua_Integer)ref);
  lua_rawseti(L, -2, (lua_Integer)pid);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_unmonitor(lua_State *L) {
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.unmonitor", &pid);
  if (r) return r;
  push_monitors(L);
  lua_rawgeti(L, -1, (lua_Integer)pid);
  if (lua_isnil(L, -1)) return werr_fail(L, WERR_NOT_FOUND, false, "process.unmonitor: not monitoring that process");
  links_unmonitor(pid, (uint64_t)lua_tointeger(L, -1));
  lua_pushnil(L);
  lua_rawseti(L, -3, (lua_Integer)pid);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_link(lua_State *L) {
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.link", &pid);
  if (r) return r;
  char target[32];
  actor_format_pid(pid, target, sizeof target);
  if ((r = check(L, "process.link", target))) return r;
  if (!links_link(actor_of(L), pid))
    return werr_fail(L, WERR_NOT_FOUND, false, "process.link: process %s is not running", target);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_unlink(lua_State *L) {
  uint64_t pid;
  int r = resolve_dest(L, 1, "process.unlink", &pid);
  if (r) return r;
  links_unlink(actor_of(L), pid);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_get_options(lua_State *L) {
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, actor_of(L)->trap_links);
  lua_setfield(L, -2, "trap_links");
  return 1;
}

static int l_set_options(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  actor *a = actor_of(L);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!k || strcmp(k, "trap_links") != 0)
      return werr_fail(L, WERR_INVALID, false, "process.set_options: unknown option \"%s\" (allowed: trap_links)",
                       k ? k : luaL_typename(L, -2));
    if (!lua_isboolean(L, -1)) return werr_fail(L, WERR_INVALID, false, "process.set_options: trap_links must be a boolean");
    a->trap_links = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- registry ---- */

static int r_register(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  uint64_t pid = actor_of(L)->pid;
  if (!lua_isnoneornil(L, 2)) {
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    if (!actor_parse_pid(s, len, &pid)) return werr_fail(L, WERR_INVALID, false, "process.registry.register: malformed pid \"%s\"", s);
  }
  int r;
  if ((r = check(L, "process.registry.register", name))) return r;
  actor *t = actor_lookup(pid);
  if (!t) return werr_fail(L, WERR_NOT_FOUND, false, "process.registry.register: process is not running");
  actor_release(t);
  int rc = names_register(name, pid);
  if (rc < 0) return werr_fail(L, WERR_INVALID, false, "process.registry.register: invalid name \"%s\" (1-%d characters, not starting with '<')", name, NAMES_MAX_LEN);
  if (rc > 0) return werr_fail(L, WERR_ALREADY_EXISTS, false, "process.registry.register: \"%s\" is already registered", name);
  lua_pushboolean(L, 1);
  return 1;
}

static int r_lookup(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  uint64_t pid = names_lookup(name);
  if (!pid) return werr_fail(L, WERR_NOT_FOUND, false, "process.registry.lookup: no process is registered as \"%s\"", name);
  push_pid(L, pid);
  return 1;
}

static int r_unregister(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int r;
  if ((r = check(L, "process.registry.unregister", name))) return r;
  if (!names_unregister(name)) return werr_fail(L, WERR_NOT_FOUND, false, "process.registry.unregister: \"%s\" is not registered", name);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_pid(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "wisp.pid");
  return 1;
}

static int push_registry_table(lua_State *L) {
  static const luaL_Reg reg[] = {{"register", r_register}, {"lookup", r_lookup}, {"unregister", r_unregister}, {NULL, NULL}};
  luaL_newlib(L, reg);
  return 1;
}

static int push_event_table(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, EV_EXIT_NAME);
  lua_setfield(L, -2, "EXIT");
  lua_pushliteral(L, EV_LINK_DOWN_NAME);
  lua_setfield(L, -2, "LINK_DOWN");
  lua_pushliteral(L, EV_CANCEL_NAME);
  lua_setfield(L, -2, "CANCEL");
  return 1;
}

int luaopen_wisp_process(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"pid", l_pid}, {"send", l_send}, {"spawn", l_spawn}, {"spawn_monitored", l_spawn_monitored},
      {"spawn_linked", l_spawn_linked}, {"spawn_linked_monitored", l_spawn_linked_monitored},
      {"exec", l_exec}, {"inbox", l_inbox}, {"listen", l_listen}, {"unlisten", l_unlisten},
      {"events", l_events}, {"cancel", l_cancel}, {"terminate", l_terminate},
      {"monitor", l_monitor}, {"unmonitor", l_unmonitor}, {"link", l_link}, {"unlink", l_unlink},
      {"get_options", l_get_options}, {"set_options", l_set_options},
      {"=registry", push_registry_table}, {"=event", push_event_table}, {NULL, NULL}};
  sandbox_lazy_lib(L, funcs);
  return 1;
}

void process_register(void) {
  actor_set_handler(MB_MESSAGE, on_message);
  actor_set_handler(MB_EVENT, on_event);
}
