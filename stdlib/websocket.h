/* stdlib/websocket.h — the `websocket` module (SPEC.md "websocket", seed/websocket.md): the Lua
 * binding over the net thread's connections (net/ws_client.h). */
#ifndef WISP_STDLIB_WEBSOCKET_H
#define WISP_STDLIB_WEBSOCKET_H
#include <lua.h>

int luaopen_wisp_websocket(lua_State *L);
/* The MB_NET handler and the actor cleanup that closes an ended actor's connections (1001);
 * once at start-up. */
void websocket_register(void);

#endif
