/* actors/sandbox.c — builds an actor's Lua environment (see sandbox.h). */
#include "actors/sandbox.h"
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <unistd.h>
#include "actors/actor.h"
#include "core/buf.h"
#include "core/log.h"

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

/* ---- lazily populated module tables ---- */

static int lazy_lib_index(lua_State *L) {
  const luaL_Reg *f = lua_touserdata(L, lua_upvalueindex(1));
  size_t klen;
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &klen) : NULL;
  if (!k) return 0;
  for (; f->name; f++) {
    const char *n = f->name[0] == '=' ? f->name + 1 : f->name;
    if (strcmp(n, k) != 0) continue;
    if (f->name[0] == '=') {
      lua_settop(L, 2);
      f->func(L);
      lua_settop(L, 3);
    } else {
      lua_pushcfunction(L, f->func);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, 1);
    return 1;
  }
  return 0;
}

void sandbox_lazy_lib(lua_State *L, const luaL_Reg *funcs) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, (void *)funcs);
  lua_pushcclosure(L, lazy_lib_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
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
  if (wlog_format() == WLOG_JSON) {
    /* structured output (stdout is not a terminal, or --log-format json): print becomes a log
     * line that says which actor printed it */
    json_t *fields = json_object();
    lua_getfield(L, LUA_REGISTRYINDEX, "wisp.pid");
    if (lua_isstring(L, -1)) json_object_set_new(fields, "pid", json_string(lua_tostring(L, -1)));
    lua_getfield(L, LUA_REGISTRYINDEX, "wisp.entry");
    if (lua_isstring(L, -1)) json_object_set_new(fields, "entry", json_string(lua_tostring(L, -1)));
    lua_pop(L, 2);
    json_object_set_new(fields, "source", json_string("print"));
    wbuf_putc(&b, 0);
    wlog_emit(WLOG_INFO, b.data, fields);
    json_decref(fields);
    wbuf_free(&b);
    return 0;
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

/* require(alias) of an imported library entry: loaded once per actor, cached in _LOADED. */
static bool require_import(lua_State *L, const char *name) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "wisp.imports") != LUA_TTABLE) {
    lua_pop(L, 1);
    return false;
  }
  if (lua_getfield(L, -1, name) != LUA_TSTRING) {
    lua_pop(L, 2);
    return false;
  }
  const char *id = lua_tostring(L, -1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    lua_replace(L, -4);
    lua_pop(L, 2);
    return true;
  }
  lua_pop(L, 1);
  actor_library_loader load = actor_get_library_loader();
  if (!load) luaL_error(L, "module '%s': no app is loaded to import %s from", name, id);
  load(L, id); /* pushes the library's value or raises */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name);
  lua_replace(L, -4);
  lua_pop(L, 2);
  return true;
}

static int l_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (require_import(L, name)) return 1;
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

/* Strings need a metatable from the start — ("x"):upper(), "10" + 1 — but the string library
 * costs ~2 KB per state. A stand-in metatable of light C functions (no allocation each) opens
 * the real library on first use, which replaces it, then redoes the operation. */
static void ensure_string_lib(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int t = lua_getfield(L, -1, LUA_STRLIBNAME);
  lua_pop(L, 2);
  if (t != LUA_TNIL) return;
  const module_entry *m = find_module(LUA_STRLIBNAME);
  if (m) {
    push_loaded(L, m);
    lua_pop(L, 1);
  }
}

static int lazy_string_index(lua_State *L) {
  ensure_string_lib(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, LUA_STRLIBNAME);
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

#define LAZY_ARITH(name, op)                 \
  static int name(lua_State *L) {            \
    ensure_string_lib(L);                    \
    lua_settop(L, 2);                        \
    if ((op) == LUA_OPUNM) lua_pop(L, 1);    \
    lua_arith(L, op);                        \
    return 1;                                \
  }
LAZY_ARITH(lazy_add, LUA_OPADD)
LAZY_ARITH(lazy_sub, LUA_OPSUB)
LAZY_ARITH(lazy_mul, LUA_OPMUL)
LAZY_ARITH(lazy_mod, LUA_OPMOD)
LAZY_ARITH(lazy_pow, LUA_OPPOW)
LAZY_ARITH(lazy_div, LUA_OPDIV)
LAZY_ARITH(lazy_idiv, LUA_OPIDIV)
LAZY_ARITH(lazy_unm, LUA_OPUNM)

static void install_lazy_string_metatable(lua_State *L) {
  static const luaL_Reg mm[] = {{"__index", lazy_string_index}, {"__add", lazy_add}, {"__sub", lazy_sub},
                                {"__mul", lazy_mul}, {"__mod", lazy_mod}, {"__pow", lazy_pow},
                                {"__div", lazy_div}, {"__idiv", lazy_idiv}, {"__unm", lazy_unm}, {NULL, NULL}};
  lua_createtable(L, 0, 9);
  luaL_setfuncs(L, mm, 0);
  lua_pushliteral(L, "");
  lua_pushvalue(L, -2);
  lua_setmetatable(L, -2);
  lua_pop(L, 2);
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
  install_lazy_string_metatable(L);
  if (allowed) {
    lua_newtable(L);
    for (int i = 0; allowed[i]; i++) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, allowed[i]);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&l_require);
  }
}
