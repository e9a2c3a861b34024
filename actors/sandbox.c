/* actors/sandbox.c — builds an actor's Lua environment (see sandbox.h). */
#include "actors/sandbox.h"
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <unistd.h>
#include "core/buf.h"

#define MAX_MODULES 32

typedef struct module_entry {
  const char *name;
  lua_CFunction open;
  bool global;
} module_entry;

static module_entry modules[MAX_MODULES];
static int nmodules;

void sandbox_register(const char *name, lua_CFunction open, bool global) {
  for (int i = 0; i < nmodules; i++)
    if (strcmp(modules[i].name, name) == 0) {
      modules[i].open = open;
      modules[i].global = global;
      return;
    }
  if (nmodules < MAX_MODULES) modules[nmodules++] = (module_entry){name, open, global};
}

static const module_entry *find_module(const char *name) {
  for (int i = 0; i < nmodules; i++)
    if (strcmp(modules[i].name, name) == 0) return &modules[i];
  return NULL;
}

/* Opens a module once per state; cached in the registry's _LOADED like luaL_requiref. */
static void push_loaded(lua_State *L, const module_entry *m) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, m->name) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushcfunction(L, m->open);
    lua_pushstring(L, m->name);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, m->name);
    if (m->global) {
      lua_pushglobaltable(L);
      lua_pushvalue(L, -2);
      lua_setfield(L, -2, m->name);
      lua_pop(L, 1);
    }
  }
  lua_remove(L, -2);
}

void sandbox_push_module(lua_State *L, const char *name) {
  const module_entry *m = find_module(name);
  if (!m) { lua_pushnil(L); return; }
  push_loaded(L, m);
}

/* _G.__index: opens a registered global library on first use. */
static int lazy_global(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  if (!k || lua_type(L, 2) != LUA_TSTRING) return 0;
  const module_entry *m = find_module(k);
  if (!m || !m->global) return 0;
  push_loaded(L, m);
  return 1;
}

/* ---- replaced base functions ---- */

static int l_print(lua_State *L) {
  int n = lua_gettop(L);
  wbuf b = WBUF_INIT;
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) wbuf_putc(&b, '\t');
    wbuf_append(&b, s, len);
    lua_pop(L, 1);
  }
  wbuf_putc(&b, '\n');
  /* one write per line: lines of concurrent actors never interleave */
  size_t off = 0;
  while (off < b.len) {
    ssize_t w = write(STDOUT_FILENO, b.data + off, b.len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  wbuf_free(&b);
  return 0;
}

/* load(chunk, name, mode, env): binary chunks are refused whatever mode says. */
static int l_load(lua_State *L) {
  int n = lua_gettop(L);
  if (n >= 3 && !lua_isnil(L, 3)) {
    const char *mode = luaL_checkstring(L, 3);
    if (strchr(mode, 'b') && !strchr(mode, 't')) {
      luaL_pushfail(L);
      lua_pushliteral(L, "load: binary chunks are not allowed in an actor");
      return 2;
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  if (n >= 2) lua_pushvalue(L, 2); else lua_pushnil(L);
  lua_pushliteral(L, "t");
  int nargs = 3;
  if (n >= 4) { lua_pushvalue(L, 4); nargs = 4; }
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L) - n;
}

static int l_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const module_entry *m = find_module(name);
  if (!m) return luaL_error(L, "module '%s' not found: require only gives the built-in modules "
                               "and the libraries the entry imports", name);
  if (m->global) { /* global libraries are reachable anyway */
    push_loaded(L, m);
    return 1;
  }
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)&l_require) == LUA_TTABLE) {
    lua_getfield(L, -1, name);
    bool ok = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (!ok) return luaL_error(L, "module '%s' is not allowed: add it to the entry's modules list", name);
  } else {
    lua_pop(L, 1);
  }
  push_loaded(L, m);
  return 1;
}

static int os_lib(lua_State *L) {
  luaopen_os(L);
  static const char *const keep[] = {"clock", "time", "date", "difftime", NULL};
  lua_newtable(L);
  for (int i = 0; keep[i]; i++) {
    lua_getfield(L, -2, keep[i]);
    lua_setfield(L, -2, keep[i]);
  }
  return 1;
}

static int debug_lib(lua_State *L) {
  luaopen_debug(L);
  lua_createtable(L, 0, 1);
  lua_getfield(L, -2, "traceback");
  lua_setfield(L, -2, "traceback");
  return 1;
}

static void register_std_libs(void) {
  static bool done;
  if (done) return;
  done = true;
  static const struct { const char *n; lua_CFunction f; } std[] = {
      {"string", luaopen_string}, {"table", luaopen_table}, {"math", luaopen_math},
      {"utf8", luaopen_utf8}, {"os", os_lib}, {"debug", debug_lib}};
  for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
    if (!find_module(std[i].n)) sandbox_register(std[i].n, std[i].f, true);
}

void sandbox_open(lua_State *L, const char *const *allowed) {
  register_std_libs();
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  static const char *const removed[] = {"dofile", "loadfile", NULL};
  for (int i = 0; removed[i]; i++) {
    lua_pushnil(L);
    lua_setfield(L, -2, removed[i]);
  }
  lua_getfield(L, -1, "load");
  lua_pushcclosure(L, l_load, 1);
  lua_setfield(L, -2, "load");
  lua_pushcfunction(L, l_print);
  lua_setfield(L, -2, "print");
  lua_pushcfunction(L, l_require);
  lua_setfield(L, -2, "require");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_global);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  /* strings need their metatable from the start ("x"):upper(), "10" + 1 */
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  lua_pop(L, 1);
  if (allowed) {
    lua_newtable(L);
    for (int i = 0; allowed[i]; i++) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, allowed[i]);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&l_require);
  }
}
