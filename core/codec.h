/* core/codec.h — the value codec: copies Lua values between two lua_States as bytes (actors never
 * share Lua objects; DESIGN.md "One mailbox per actor").
 *
 * Copied: nil, booleans, integers and floats (subtype kept, floats bit-exact: NaN payloads, -0.0,
 * inf), strings (binary safe), tables (keys and values of copyable types, nested). A sub-table
 * reached twice without a cycle is copied twice; a cycle is an error. A table's metatable is
 * dropped unless it is a registered type. Not copied (error): functions, threads, light userdata,
 * userdata without a registered metatable, table nesting deeper than WCODEC_MAX_DEPTH.
 *
 * Format (little-endian, varint = LEB128, at most 10 bytes):
 *   0x00 nil | 0x01 false | 0x02 true
 *   0x03 integer: zigzag varint           | 0x80+v  integer 0 <= v <= 127
 *   0x04 float: 8 bytes IEEE-754 binary64
 *   0x05 string: varint length, bytes     | 0x40+n  string of n <= 63 bytes, bytes
 *   0x06 table: varint n, then t[1..n] (never nil), then key/value pairs, then 0x00
 *   0x07 registered type: type id byte, varint length, the hook's bytes
 *   record (wcodec_encode_n): varint count, then count values
 *
 * Registered types: a table or userdata whose metatable is the registry entry
 * luaL_getmetatable(L, name) of a registered type is written with its id and the bytes of the
 * type's enc hook; the receiver calls the dec hook, which pushes one value. The type table is
 * process-global: fill it at start-up before any other thread runs; it is read-only afterwards.
 * Hooks run under lua_pcall. enc gets the value at index idx of its own frame and appends to
 * out; dec gets exactly the bytes enc wrote and pushes one value. Both return 0 or -1. Hooks may
 * call wcodec_encode / wcodec_decode for nested values: nested calls share the depth limit, cycle
 * detection and error path of the enclosing call, and a nested encode error is the one reported.
 *
 * Lua errors: encode can raise a memory error in the sender's state (interning a registered
 * type's name); errors raised inside an enc hook become -1. Decode allocates in the receiver and
 * can raise a memory error there: run it under lua_pcall. A memory error inside a dec hook is
 * re-raised with lua_error (so the catching pcall sees "not enough memory" as LUA_ERRRUN); other
 * dec hook errors become -1. Decode never reads outside data[0..len) and never trusts a length. */
#ifndef WISP_CODEC_H
#define WISP_CODEC_H
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "core/buf.h"

#define WCODEC_MAX_DEPTH 100 /* tables and registered values open at once */
#define WCODEC_MAX_TYPES 16

/* Appends the value at idx to out. Returns 0, or -1 with out restored to its length on entry and
 * a message in err naming the type and the path (paths are relative to the value:
 * "cannot copy a function (at payload.handlers[2])", "cannot copy a table with a cycle (at a.b)",
 * "table nesting deeper than 100 (at ...)", "cannot copy a function as a table key (at x)";
 * no "(at ...)" when the value itself is the culprit). err may be NULL or errlen 0. */
int wcodec_encode(lua_State *L, int idx, wbuf *out, char *err, size_t errlen);

/* Appends the n (>= 0) values at first .. first+n-1 as one record. When n > 1, paths in messages
 * start with the value's position in the record: "cannot copy a function (at #2.handlers[1])". */
int wcodec_encode_n(lua_State *L, int first, int n, wbuf *out, char *err, size_t errlen);

/* Decodes the value at data[*pos], pushes it and advances *pos. Returns 0, or -1 on malformed or
 * unsupported input (unknown type id, nesting deeper than WCODEC_MAX_DEPTH, Lua stack exhausted)
 * with nothing pushed and *pos unchanged. */
int wcodec_decode(lua_State *L, const char *data, size_t len, size_t *pos);

/* Decodes a whole record (all of data[0..len), trailing bytes are malformed) and pushes its
 * values. Returns their count, or -1 with nothing pushed. */
int wcodec_decode_n(lua_State *L, const char *data, size_t len);

typedef int (*wcodec_enc_fn)(lua_State *L, int idx, wbuf *out);
typedef int (*wcodec_dec_fn)(lua_State *L, const char *p, size_t len);

/* Registers (or, for an id already registered, replaces) a type. metatable_name must stay valid
 * for the life of the process. More than WCODEC_MAX_TYPES ids or NULL arguments abort: this is
 * start-up configuration, not input. */
void wcodec_register_type(uint8_t type_id, const char *metatable_name, wcodec_enc_fn enc,
                          wcodec_dec_fn dec);

#endif
