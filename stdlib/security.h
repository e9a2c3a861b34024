/* stdlib/security.h — the `security` Lua module and the permission check every module makes
 * before it acts (SPEC.md "security").
 *
 * The actor's context lives in its Lua registry under "wisp.security" as a light userdata
 * (a sec_context * the actor holds a reference to; the runtime sets it when the actor is
 * spawned). No value there means the operator context: everything allowed. */
#ifndef WISP_STDLIB_SECURITY_H
#define WISP_STDLIB_SECURITY_H
#include <jansson.h>
#include <lua.h>
#include "security/context.h"

#define SECURITY_REGISTRY_KEY "wisp.security"

/* The calling actor's context: the light userdata under SECURITY_REGISTRY_KEY, the operator
 * context when the key is unset, or NULL (deny everything) when it holds anything else. */
sec_context *security_context_of(lua_State *L);

/* Checks action on resource (meta: NULL or an object, borrowed) for the calling actor.
 * Returns 0 when allowed, with the stack unchanged. Otherwise pushes nil and a
 * PERMISSION_DENIED error (not retryable) whose message names the action, the resource and the
 * reason, and whose details are {action =, resource =}, and returns 2:
 *     int r = security_check(L, "env.get", name, NULL); if (r) return r; */
int security_check(lua_State *L, const char *action, const char *resource, json_t *meta);

/* The `security` module: actor(), can(action, resource, meta?). */
int luaopen_wisp_security(lua_State *L);

#endif
