/* stdlib/security.c — the `security` module (security.actor, security.can) and security_check,
 * the permission gate of every other module (security.h).
 *
 * Decisions:
 *  - security.can takes the same meta a module would pass (a table of plain data, converted
 *    with json.encode's rules); a meta that cannot be converted, like a wrong argument type,
 *    raises. An action or resource holding a NUL byte raises too: the evaluator compares
 *    C strings, and a silent cut would answer a different question.
 *  - security.actor returns a fresh table each call ({id =, meta =}, meta {} when the identity
 *    has none), so a script cannot change what later checks see.
 *  - The denial message is "permission denied: <reason>", where the reason names the action,
 *    the resource and the deciding policy (security/context.h). */
#include "stdlib/security.h"
#include <lauxlib.h>
#include <string.h>
#include "stdlib/errors.h"
#include "stdlib/json.h"

sec_context *security_context_of(lua_State *L) {
  int t = lua_getfield(L, LUA_REGISTRYINDEX, SECURITY_REGISTRY_KEY);
  sec_context *c;
  if (t == LUA_TNIL)
    c = sec_context_operator();
  else if (t == LUA_TLIGHTUSERDATA)
    c = lua_touserdata(L, -1);
  else
    c = NULL;
  lua_pop(L, 1);
  return c;
}

/* Writes the reason for ctx's decision into a buffer that never truncates: buf when it is big
 * enough, else a userdata left on the stack (*pushed set). */
static char *reason_buffer(lua_State *L, char *buf, size_t bufsz, const char *action,
                           const char *resource, size_t *size, bool *pushed) {
  *size = sec_reason_size(action, resource);
  *pushed = false;
  if (*size <= bufsz) {
    *size = bufsz;
    return buf;
  }
  *pushed = true;
  return lua_newuserdatauv(L, *size, 0);
}

int security_check(lua_State *L, const char *action, const char *resource, json_t *meta) {
  if (!action) action = "";
  if (!resource) resource = "";
  char small[512];
  size_t size;
  bool pushed;
  char *reason = reason_buffer(L, small, sizeof small, action, resource, &size, &pushed);
  if (sec_allowed(security_context_of(L), action, resource, meta, reason, size)) {
    if (pushed) lua_pop(L, 1);
    return 0;
  }
  werr_fail(L, WERR_PERMISSION_DENIED, false, "permission denied: %s", reason);
  int err_idx = lua_gettop(L);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, action);
  lua_setfield(L, -2, "action");
  lua_pushstring(L, resource);
  lua_setfield(L, -2, "resource");
  werr_set_details(L, err_idx);
  if (pushed) lua_remove(L, -3);
  return 2;
}

static const char *check_cstring(lua_State *L, int arg) {
  size_t len;
  const char *s = luaL_checklstring(L, arg, &len);
  if (strlen(s) != len) luaL_argerror(L, arg, "string contains a NUL byte");
  return s;
}

static int l_can(lua_State *L) {
  const char *action = check_cstring(L, 1);
  const char *resource = check_cstring(L, 2);
  int mt = lua_type(L, 3);
  if (mt != LUA_TNONE && mt != LUA_TNIL && mt != LUA_TTABLE) luaL_typeerror(L, 3, "table");
  json_t *meta = NULL;
  if (mt == LUA_TTABLE) {
    meta = wjson_from_lua(L, 3, 0);
    if (!meta) return luaL_argerror(L, 3, lua_tostring(L, -1));
    if (json_is_array(meta)) {
      /* an empty table converts to [], which is meta with no keys; a list is not meta */
      size_t n = json_array_size(meta);
      json_decref(meta);
      meta = NULL;
      if (n) return luaL_argerror(L, 3, "meta must be a table with string keys, got a list");
    }
  }
  bool ok = sec_allowed(security_context_of(L), action, resource, meta, NULL, 0);
  json_decref(meta);
  lua_pushboolean(L, ok);
  return 1;
}

static int l_actor(lua_State *L) {
  const sec_actor *a = sec_context_actor(security_context_of(L));
  if (!a) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, a->id);
  lua_setfield(L, -2, "id");
  if (a->meta && json_object_size(a->meta) > 0) {
    if (!wjson_push(L, a->meta))
      return werr_fail(L, WERR_INTERNAL, false, "security.actor: actor meta nests too deeply");
  } else {
    lua_newtable(L);
  }
  lua_setfield(L, -2, "meta");
  return 1;
}

int luaopen_wisp_security(lua_State *L) {
  static const luaL_Reg funcs[] = {{"actor", l_actor}, {"can", l_can}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
