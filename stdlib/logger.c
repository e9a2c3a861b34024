/* stdlib/logger.c — the `logger` module (SPEC.md "logger"): structured logging from Lua onto the
 * process-wide writer (core/log.h).
 *
 * The module table is the root logger (no name, no fields); logger:with and logger:named return
 * userdata "wisp.Logger" holding their fields as a jansson object (converted and checked once,
 * keys sorted) and their dotted name as user value 1. Each line carries, in this order:
 * logger (the name, when set), pid and entry (from the registry keys "wisp.pid" and
 * "wisp.entry" when present), then the fields sorted by key, call fields overriding `with`
 * fields. A field named like one of these (or ts/level/msg) is written as "fields.<key>".
 *
 * Field values follow json.encode's rules, except that an error object becomes its message,
 * NaN/Inf become the strings "NaN"/"Inf"/"-Inf" and strings with invalid UTF-8 are repaired by
 * the writer: a log call should not fail over the data it reports. Values json.encode rejects
 * for their structure (functions, cycles, mixed tables) raise a Lua error naming the method,
 * as do wrong argument types. A call below the current level returns before looking at its
 * arguments. */
#include <lauxlib.h>
#include <string.h>
#include "core/log.h"
#include "stdlib/errors.h"
#include "stdlib/json.h"
#include "stdlib/stdlib.h"

#define LOGGER_MT "wisp.Logger"
#define UV_NAME 1

typedef struct wlogger {
  json_t *fields; /* object with sorted keys, or NULL */
} wlogger;

static int lg_gc(lua_State *L) {
  wlogger *lg = lua_touserdata(L, 1);
  json_decref(lg->fields);
  lg->fields = NULL;
  return 0;
}

static int lg_tostring(lua_State *L) {
  lua_getiuservalue(L, 1, UV_NAME);
  if (lua_isstring(L, -1)) lua_pushfstring(L, "logger: %s", lua_tostring(L, -1));
  else lua_pushliteral(L, "logger");
  return 1;
}

/* The logger at argument 1: NULL for the root (the module table, upvalue 1). */
static wlogger *check_self(lua_State *L, const char *method) {
  wlogger *lg = luaL_testudata(L, 1, LOGGER_MT);
  if (lg || lua_rawequal(L, 1, lua_upvalueindex(1))) return lg;
  luaL_error(L, "bad self to 'logger:%s' (logger expected, got %s; call it as logger:%s(...))",
             method, luaL_typename(L, 1), method);
  return NULL;
}

/* Pushes the name of the logger at argument 1 (nil for the root). */
static void push_name(lua_State *L, wlogger *lg) {
  if (lg) lua_getiuservalue(L, 1, UV_NAME);
  else lua_pushnil(L);
}

/* Pushes a new logger with the given fields (reference taken over) and the name on top
 * (popped, string or nil). */
static void push_logger(lua_State *L, json_t *fields) {
  wlogger *lg = lua_newuserdatauv(L, sizeof *lg, 1);
  lg->fields = fields;
  if (luaL_newmetatable(L, LOGGER_MT)) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lg_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lg_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  lua_rotate(L, -2, 1); /* name on top */
  lua_setiuservalue(L, -2, UV_NAME);
}

/* Converts the fields table at idx; NULL when it is empty. Raises naming the method. */
static json_t *convert_fields(lua_State *L, int idx, const char *method) {
  json_t *v = wjson_from_lua(L, idx, WJSON_LENIENT | WJSON_ERR_MESSAGE);
  if (!v) luaL_error(L, "logger:%s: fields: %s", method, lua_tostring(L, -1));
  if (json_is_array(v) && json_array_size(v) == 0) {
    json_decref(v);
    return NULL;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    luaL_error(L, "logger:%s: fields must be a table with string keys", method);
  }
  return v;
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : (al > bl) - (al < bl);
}

static bool is_reserved(const char *k, size_t n) {
  static const char *const names[] = {"ts", "level", "msg", "logger", "pid", "entry"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0) return true;
  return false;
}

static void put_field(json_t *out, const char *k, size_t n, json_t *v, bool rename) {
  if (rename && is_reserved(k, n)) {
    char key[64];
    if (n + 8 <= sizeof key) {
      memcpy(key, "fields.", 7);
      memcpy(key + 7, k, n);
      json_object_setn_nocheck(out, key, n + 7, v);
      return;
    }
  }
  json_object_setn_nocheck(out, k, n, v);
}

/* Adds the union of two objects with sorted keys to out, in key order; b wins on equal keys. */
static void merge_sorted(json_t *out, json_t *a, json_t *b, bool rename) {
  void *ia = a ? json_object_iter(a) : NULL, *ib = b ? json_object_iter(b) : NULL;
  while (ia || ib) {
    int c = !ia ? 1 : !ib ? -1
                          : key_cmp(json_object_iter_key(ia), json_object_iter_key_len(ia),
                                    json_object_iter_key(ib), json_object_iter_key_len(ib));
    void *it = c < 0 ? ia : ib;
    put_field(out, json_object_iter_key(it), json_object_iter_key_len(it),
              json_object_iter_value(it), rename);
    if (c <= 0) ia = json_object_iter_next(a, ia);
    if (c >= 0) ib = json_object_iter_next(b, ib);
  }
}

static int log_at(lua_State *L, int level, const char *method) {
  if (!wlog_enabled(level)) return 0;
  wlogger *lg = check_self(L, method);
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "bad argument #1 to 'logger:%s' (string expected, got %s)", method,
                      luaL_typename(L, 2));
  int ft = lua_type(L, 3);
  if (ft != LUA_TNONE && ft != LUA_TNIL && ft != LUA_TTABLE)
    return luaL_error(L, "bad argument #2 to 'logger:%s' (table expected, got %s)", method,
                      luaL_typename(L, 3));
  lua_settop(L, 3);
  push_name(L, lg); /* 4 */
  /* Everything that may raise happens before the jansson values below are created. */
  int ptype = lua_getfield(L, LUA_REGISTRYINDEX, "wisp.pid");
  int etype = lua_getfield(L, LUA_REGISTRYINDEX, "wisp.entry");
  if (ptype != LUA_TNIL && !(ptype == LUA_TNUMBER && lua_isinteger(L, 5))) {
    luaL_tolstring(L, 5, NULL);
    lua_replace(L, 5);
  }
  if (etype != LUA_TNIL && !(etype == LUA_TNUMBER && lua_isinteger(L, 6))) {
    luaL_tolstring(L, 6, NULL);
    lua_replace(L, 6);
  }
  json_t *call = ft == LUA_TTABLE ? convert_fields(L, 3, method) : NULL;

  json_t *line = json_object();
  if (line) {
    size_t n;
    if (lua_type(L, 4) == LUA_TSTRING) {
      const char *s = lua_tolstring(L, 4, &n);
      json_object_set_new_nocheck(line, "logger", json_stringn_nocheck(s, n));
    }
    for (int i = 5; i <= 6; i++) {
      const char *key = i == 5 ? "pid" : "entry";
      if (lua_isinteger(L, i)) {
        json_object_set_new_nocheck(line, key, json_integer(lua_tointeger(L, i)));
      } else if (lua_type(L, i) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, i, &n);
        json_object_set_new_nocheck(line, key, json_stringn_nocheck(s, n));
      }
    }
    merge_sorted(line, lg ? lg->fields : NULL, call, true);
  }
  json_decref(call);
  wlog_emit(level, lua_tostring(L, 2), line);
  json_decref(line);
  return 0;
}

static int l_debug(lua_State *L) { return log_at(L, WLOG_DEBUG, "debug"); }
static int l_info(lua_State *L) { return log_at(L, WLOG_INFO, "info"); }
static int l_warn(lua_State *L) { return log_at(L, WLOG_WARN, "warn"); }
static int l_error(lua_State *L) { return log_at(L, WLOG_ERROR, "error"); }

static int l_with(lua_State *L) {
  wlogger *lg = check_self(L, "with");
  if (lua_type(L, 2) != LUA_TTABLE)
    return luaL_error(L, "bad argument #1 to 'logger:with' (table expected, got %s)",
                      luaL_typename(L, 2));
  lua_settop(L, 2);
  push_name(L, lg);
  push_logger(L, NULL); /* 3; created first so a raise below leaks nothing */
  wlogger *nl = lua_touserdata(L, 3);
  json_t *add = convert_fields(L, 2, "with");
  json_t *base = lg ? lg->fields : NULL;
  if (!add) {
    nl->fields = json_incref(base);
  } else if (!base) {
    nl->fields = add;
  } else {
    nl->fields = json_object();
    if (nl->fields) merge_sorted(nl->fields, base, add, false);
    json_decref(add);
  }
  return 1;
}

static int l_named(lua_State *L) {
  wlogger *lg = check_self(L, "named");
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "bad argument #1 to 'logger:named' (string expected, got %s)",
                      luaL_typename(L, 2));
  if (lua_rawlen(L, 2) == 0) return luaL_error(L, "logger:named: the name must not be empty");
  lua_settop(L, 2);
  push_name(L, lg); /* 3 */
  if (lua_isnil(L, 3)) {
    lua_pushvalue(L, 2);
  } else {
    lua_pushliteral(L, ".");
    lua_pushvalue(L, 2);
    lua_concat(L, 3);
  }
  push_logger(L, json_incref(lg ? lg->fields : NULL));
  return 1;
}

int luaopen_wisp_logger(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"debug", l_debug}, {"info", l_info},   {"warn", l_warn},
      {"error", l_error}, {"with", l_with}, {"named", l_named}, {NULL, NULL},
  };
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, -1); /* each method's upvalue: the module table, i.e. the root logger */
  luaL_setfuncs(L, methods, 1);
  return 1;
}
