/* stdlib/errors.h — error objects (userdata "wisp.Error", SPEC.md "errors") and the C API every
 * module uses to hand them to Lua under the `nil, err` convention.
 *
 * An error is immutable once created: kind (string, "" = UNKNOWN), message, retryable, details
 * (plain data: strings, numbers, booleans and tables of them, deep-copied in and out) and a
 * short traceback taken where it was created. errors.wrap keeps kind, retryable, details and the
 * wrapped error's traceback, and remembers the wrapped value as its cause. */
#ifndef WISP_STDLIB_ERRORS_H
#define WISP_STDLIB_ERRORS_H
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"

#define WERR_MT "wisp.Error"

#define WERR_UNKNOWN ""
#define WERR_INVALID "Invalid"
#define WERR_NOT_FOUND "NotFound"
#define WERR_ALREADY_EXISTS "AlreadyExists"
#define WERR_PERMISSION_DENIED "PermissionDenied"
#define WERR_TIMEOUT "Timeout"
#define WERR_CANCELED "Canceled"
#define WERR_UNAVAILABLE "Unavailable"
#define WERR_INTERNAL "Internal"
#define WERR_CONFLICT "Conflict"
#define WERR_RATE_LIMITED "RateLimited"

/* Pushes a new error (message formatted with the C library's printf rules); returns 1. The
 * traceback starts at the running C function (level 0) and goes up its callers. */
int werr_push(lua_State *L, const char *kind, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Pushes nil and a new error; returns 2, so `return werr_fail(L, ...)` ends a lua_CFunction. */
int werr_fail(lua_State *L, const char *kind, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Pops the table on top (nil clears) and attaches a deep copy as the details of the error at
 * err_idx. Raises a Lua error if the table holds anything but plain data. */
void werr_set_details(lua_State *L, int err_idx);

bool werr_is(lua_State *L, int idx);
/* Borrowed strings, valid while the error is alive; NULL when idx is not an error. */
const char *werr_kind(lua_State *L, int idx);
const char *werr_message(lua_State *L, int idx);
bool werr_retryable(lua_State *L, int idx);

/* Value-codec hooks. werr_encode appends the error at idx (kind, message, retryable, stack,
 * details) to out: 0 on success, -1 if idx is not an error. werr_decode pushes the error
 * encoded in exactly [p, p+len): 0 on success, -1 (nothing pushed) on malformed bytes. The
 * cause chain does not cross; the decoded error keeps its kind, so errors.is still works. */
int werr_encode(lua_State *L, int idx, wbuf *out);
int werr_decode(lua_State *L, const char *p, size_t len);

/* The `errors` module: the kinds, new, wrap, is. */
int luaopen_wisp_errors(lua_State *L);

#endif
