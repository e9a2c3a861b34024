/* stdlib/stdlib.h — the Lua modules of the runtime and their one-time registration. */
#ifndef WISP_STDLIB_H
#define WISP_STDLIB_H
#include <lua.h>

/* Registers every module with the sandbox and every mailbox handler with the actors room.
 * Called once by the CLI before the workers start. */
void stdlib_init(void);

int luaopen_wisp_channel(lua_State *L);
int luaopen_wisp_coroutine(lua_State *L);
int luaopen_wisp_process(lua_State *L);
int luaopen_wisp_time(lua_State *L);
int luaopen_wisp_json(lua_State *L);
int luaopen_wisp_errors(lua_State *L);
int luaopen_wisp_logger(lua_State *L);
int luaopen_wisp_env(lua_State *L);
void env_snapshot(void);
void ws_metrics_install(void); /* wraps the MB_NET handler: after the websocket module registered */ /* copies the environment; once, before any actor runs */

#endif
