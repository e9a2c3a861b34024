/* stdlib/json.h — the `json` module (SPEC.md "json") and its Lua <-> jansson bridge, which the
 * logger uses for field values. Mapping rules (shared by json.encode and wjson_from_lua):
 * a table with keys exactly 1..n is an array, one with only string keys an object, an empty
 * table `[]`; integers stay integers and floats stay floats; json.null (light userdata NULL) is
 * null. Mixed or sparse tables, other key types, NaN/Inf, cycles, invalid UTF-8 and nesting
 * deeper than WJSON_MAX_DEPTH are INVALID errors that name the path (`items[3].price`). */
#ifndef WISP_STDLIB_JSON_H
#define WISP_STDLIB_JSON_H
#include <jansson.h>
#include <lua.h>

#define WJSON_MAX_DEPTH 128

/* wjson_from_lua flags */
#define WJSON_LENIENT 0x01   /* NaN/Inf become the strings "NaN", "Inf", "-Inf"; strings are
                                 taken as bytes (the log writer repairs invalid UTF-8) */
#define WJSON_ERR_MESSAGE 0x02 /* an error object becomes its message string */

/* Converts the value at idx to a new jansson value (the caller owns the reference). On failure
 * returns NULL and pushes the error message (a string, e.g. "cannot encode cycle at a.b"). */
json_t *wjson_from_lua(lua_State *L, int idx, int flags);

/* Pushes the Lua value for v (null -> nil at the top, json.null inside arrays, dropped keys
 * inside objects). Returns 1, or 0 with nothing pushed when v nests deeper than
 * WJSON_MAX_DEPTH. */
int wjson_push(lua_State *L, const json_t *v);

/* The `json` module: encode, decode, null. */
int luaopen_wisp_json(lua_State *L);

#endif
