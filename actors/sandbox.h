/* actors/sandbox.h — what an actor's Lua sees: the base library without file access, text-only
 * load, restricted os and debug, a require limited to registered built-in modules, and global
 * libraries opened lazily on first use (an idle actor pays only for what it touched). Modules
 * are registered once at start-up, before any worker runs, by stdlib/ (which actors/ does not
 * include): the table is read-only afterwards. */
#ifndef WISP_SANDBOX_H
#define WISP_SANDBOX_H
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>

/* global: opened lazily as a global variable of that name; otherwise only through require. */
void sandbox_register(const char *name, lua_CFunction open, bool global);
/* Sets up a fresh state. allowed_modules: NULL = every registered module may be required;
 * otherwise a NULL-terminated list. Raises on memory errors (run under lua_pcall). */
void sandbox_open(lua_State *L, const char *const *allowed_modules);
/* Opens (or fetches) the registered module `name` and pushes it; nil if unknown. */
void sandbox_push_module(lua_State *L, const char *name);

/* Pushes a module table whose members are created on first access (an idle actor that uses
 * one function of a module pays for one entry, not for the module). `funcs` must be static.
 * A name starting with '=' is a value producer: "=event" makes member `event` from what the
 * function pushes (called with no arguments). pairs() lists only members already touched. */
void sandbox_lazy_lib(lua_State *L, const luaL_Reg *funcs);

#endif
