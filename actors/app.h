/* actors/app.h — a loaded app at run time: resolves entry ids for spawns (compiled chunks,
 * hosts, imports), builds each service's security context, and supervises the services
 * (start order, restarts with back-off, shutdown). The supervisor runs on the calling (main)
 * thread; actors report their ends to it through a queue. */
#ifndef WISP_APP_H
#define WISP_APP_H
#include "core/manifest.h"

/* Installs the resolver and library loader for app. 0, or -1 with a message in err. */
int app_attach(const mf_app *app, char *err, size_t errlen);

typedef struct app_run_opts {
  const char *exec_id;     /* -x ns:entry, or NULL to run until a signal */
  int argc;                /* arguments of the -x process (strings) */
  char **argv;
} app_run_opts;

/* Starts the auto-start services, then either runs the -x process to its end or waits for
 * SIGTERM/SIGINT; stops the services in reverse start order (CANCEL, then terminate after
 * shutdown_timeout). Returns the process exit code. Signals must be blocked in every thread
 * (app_block_signals) before the workers start. */
int app_run(const mf_app *app, const app_run_opts *opts);
void app_block_signals(void);

/* wisp test: runs every function.lua entry with meta.type: test; prints one line per test
 * and "N passed, N failed". Returns the number of failures. */
int app_test(const mf_app *app, FILE *out);

/* Pushes a JSON value as a Lua value (objects -> tables, arrays -> sequences, null -> nil). */
#include <lua.h>
void app_push_json(lua_State *L, const json_t *v);

#endif
