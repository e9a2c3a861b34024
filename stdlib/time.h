/* stdlib/time.h — Time and Duration values for other modules. */
#ifndef WISP_STDLIB_TIME_H
#define WISP_STDLIB_TIME_H
#include <lua.h>
#include <stdint.h>

void time_push(lua_State *L, int64_t unix_ns);
void duration_push(lua_State *L, int64_t ns);
/* Reads a duration argument (number = ns, Go string, Duration). Returns 0, or -1 with an
 * INVALID error pushed (bad string); raises for a wrong type. */
int time_arg_ns(lua_State *L, int idx, const char *fname, int64_t *ns);
void time_open_types(lua_State *L); /* metatables; time_push needs them */
void time_register(void);           /* mailbox handler and codec types, once at start-up */

#endif
