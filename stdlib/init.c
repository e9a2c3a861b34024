/* stdlib/init.c — registers the Lua modules with the sandbox and their mailbox handlers and
 * codec types with the runtime, once, before any actor runs. */
#include "actors/sandbox.h"
#include "core/codec.h"
#include "stdlib/errors.h"
#include "stdlib/stdlib.h"
#include "stdlib/process.h"
#include "stdlib/time.h"

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

  wcodec_register_type(1, WERR_MT, werr_encode, werr_decode);
  time_register();
  process_register();
}
