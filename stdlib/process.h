/* stdlib/process.h — hooks through which the app layer (manifest, security) plugs into the
 * process module without the module knowing manifests. */
#ifndef WISP_STDLIB_PROCESS_H
#define WISP_STDLIB_PROCESS_H
#include <lua.h>
#include "actors/actor.h"

/* Returns 0 when `action` on `resource` is allowed for the calling actor; otherwise pushes
 * nil, err (PERMISSION_DENIED) and returns 2. */
typedef int (*process_checker)(lua_State *L, const char *action, const char *resource);
void process_set_checker(process_checker fn);
void process_set_security_retain(void *(*fn)(void *ctx));
void process_register(void); /* mailbox handlers, once at start-up */

#endif
