/* stdlib/init.c — registers the Lua modules with the sandbox and their mailbox handlers and
 * codec types with the runtime, once, before any actor runs. */
#include "actors/actor.h"
#include "actors/sandbox.h"
#include "core/codec.h"
#include "stdlib/errors.h"
#include "stdlib/stdlib.h"
#include "security/context.h"
#include "stdlib/process.h"
#include "stdlib/security.h"
#include "stdlib/time.h"
#include "stdlib/websocket.h"

static int check_process_action(lua_State *L, const char *action, const char *resource) {
  return security_check(L, action, resource, NULL);
}
static void *retain_context(void *c) { return sec_context_retain(c); }
static void release_context(void *c) { sec_context_release(c); }

void stdlib_init(void) {
  /* globals, opened lazily on first use */
  sandbox_register("channel", luaopen_wisp_channel, true);
  sandbox_register("coroutine", luaopen_wisp_coroutine, true);
  sandbox_register("process", luaopen_wisp_process, true);
  sandbox_register("errors", luaopen_wisp_errors, true);
  /* require()-only modules */
  sandbox_register("time", luaopen_wisp_time, false);
  sandbox_register("json", luaopen_wisp_json, false);
  sandbox_register("logger", luaopen_wisp_logger, false);
  sandbox_register("websocket", luaopen_wisp_websocket, false);
  sandbox_register("security", luaopen_wisp_security, false);
  sandbox_register("env", luaopen_wisp_env, false);
  env_snapshot();

  wcodec_register_type(1, WERR_MT, werr_encode, werr_decode);
  time_register();
  process_register();
  websocket_register();
  ws_metrics_install(); /* after websocket_register: it wraps that handler */
  process_set_checker(check_process_action);
  process_set_security_retain(retain_context);
  actor_set_security_release(release_context);
}
