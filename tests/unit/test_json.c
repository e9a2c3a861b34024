/* tests/unit/test_json.c — json.encode / json.decode rules, error paths and messages, round
 * trips, and the C bridge (wjson_from_lua, wjson_push). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <time.h>
#include "stdlib/errors.h"
#include "stdlib/json.h"
#include "tests/unit/t.h"

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "errors", luaopen_wisp_errors, 1);
  luaL_requiref(L, "json", luaopen_wisp_json, 1);
  lua_settop(L, 0);
  /* enc(v) must succeed and equal the expected text; fails(v, msg) must be nil, INVALID err
   * whose message contains msg */
  int rc = luaL_dostring(L,
      "function enc(v, want)\n"
      "  local s, err = json.encode(v)\n"
      "  assert(s, tostring(err))\n"
      "  assert(s == want, ('encoded %s, want %s'):format(s, want))\n"
      "end\n"
      "function fails(v, msg)\n"
      "  local s, err = json.encode(v)\n"
      "  assert(s == nil, 'expected failure: ' .. msg .. ', got ' .. tostring(s))\n"
      "  assert(err:kind() == errors.INVALID, tostring(err))\n"
      "  assert(err:message() == msg, ('message %q, want %q'):format(err:message(), msg))\n"
      "end\n"
      "function dec_fails(s, pattern)\n"
      "  local v, err = json.decode(s)\n"
      "  assert(v == nil and err, 'expected decode failure for ' .. s)\n"
      "  assert(err:kind() == errors.INVALID, tostring(err))\n"
      "  assert(err:message():find(pattern), ('message %q, want %q'):format(err:message(), pattern))\n"
      "end\n");
  if (rc != LUA_OK) fprintf(stderr, "setup: %s\n", lua_tostring(L, -1));
  lua_settop(L, 0);
  return L;
}

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    lua_settop(L, 0);
    return 0;
  }
  lua_settop(L, 0);
  return 1;
}
#define RUN(L, code) CHECK(run(L, code))

static void test_encode_scalars(void) {
  lua_State *L = new_state();
  RUN(L, "enc(nil, 'null'); enc(true, 'true'); enc(false, 'false'); enc(json.null, 'null')\n"
         "enc(0, '0'); enc(-17, '-17'); enc(1, '1'); enc(math.maxinteger, '9223372036854775807')\n"
         "enc(math.mininteger, '-9223372036854775808')\n"
         "enc(1.0, '1.0'); enc(-0.0, '-0.0'); enc(0.1, '0.1'); enc(1.5, '1.5'); enc(-2.25, '-2.25')\n"
         "enc(1/3, '0.3333333333333333'); enc(1e300, '1e+300'); enc(2^53, '9007199254740992.0')\n"
         "enc(1e-7, '1e-07'); enc(123456789012.0, '123456789012.0')\n"
         "enc('', '\"\"'); enc('plain', '\"plain\"')\n"
         "enc('q\"b\\\\s/', '\"q\\\\\"b\\\\\\\\s/\"')\n"
         "enc('\\n\\r\\t\\b\\f\\1\\31\\127', '\"\\\\n\\\\r\\\\t\\\\b\\\\f\\\\u0001\\\\u001f\\127\"')\n"
         "enc('a\\0b', '\"a\\\\u0000b\"')\n"
         "enc('h\\u{e9}llo \\u{4e16}\\u{1F600}', '\"h\\u{e9}llo \\u{4e16}\\u{1F600}\"')");
  lua_close(L);
}

static void test_encode_tables(void) {
  lua_State *L = new_state();
  RUN(L, "enc({}, '[]'); enc({1, 2, 3}, '[1,2,3]'); enc({'a', {true}}, '[\"a\",[true]]')\n"
         "enc({b = 1, a = 2, ab = 3, [''] = 0}, '{\"\":0,\"a\":2,\"ab\":3,\"b\":1}')\n"
         "enc({x = {}, y = {z = {1.0}}}, '{\"x\":[],\"y\":{\"z\":[1.0]}}')\n"
         "enc({json.null, 1, json.null}, '[null,1,null]')\n"
         "enc({v = json.null}, '{\"v\":null}')\n"
         "enc({['1'] = 'str key'}, '{\"1\":\"str key\"}')\n"
         "enc({[1.0] = 'a', [2] = 'b'}, '[\"a\",\"b\"]')\n"
         "-- metatables are ignored\n"
         "enc(setmetatable({}, {__index = function() return 1 end}), '[]')\n"
         "enc(setmetatable({k = 1}, {__pairs = function() error('no') end}), '{\"k\":1}')\n"
         "-- a table reached twice without a cycle is fine\n"
         "local shared = {1}\n"
         "enc({a = shared, b = shared}, '{\"a\":[1],\"b\":[1]}')\n"
         "-- deterministic order for many keys\n"
         "local t, want = {}, {}\n"
         "for i = 1, 200 do t['k' .. string.format('%03d', 201 - i)] = i end\n"
         "for i = 1, 200 do want[#want + 1] = ('\"k%03d\":%d'):format(i, 201 - i) end\n"
         "enc(t, '{' .. table.concat(want, ',') .. '}')\n"
         "local big = {}\n"
         "for i = 1, 10000 do big[i] = i end\n"
         "assert(#json.encode(big) == 48895)");
  lua_close(L);
}

static void test_encode_errors(void) {
  lua_State *L = new_state();
  RUN(L, "fails({items = {{}, {}, {price = 0/0}}}, 'cannot encode NaN at items[3].price')\n"
         "fails(math.huge, 'cannot encode Inf')\n"
         "fails({-math.huge}, 'cannot encode -Inf at [1]')\n"
         "local c = {a = {}}; c.a.b = c\n"
         "fails(c, 'cannot encode a cycle (table contains itself) at a.b')\n"
         "local s = {1}; s[2] = s\n"
         "fails(s, 'cannot encode a cycle (table contains itself) at [2]')\n"
         "fails({1, 2, x = 3}, 'cannot encode a mixed table (both integer and string keys)')\n"
         "fails({o = {[1] = 1, [3] = 3}}, 'cannot encode a sparse array (integer keys are not 1..n) at o')\n"
         "fails({[0] = 'zero', 'one'}, 'cannot encode a sparse array (integer keys are not 1..n)')\n"
         "fails({[-1] = 1}, 'cannot encode a sparse array (integer keys are not 1..n)')\n"
         "fails({[true] = 1}, 'cannot encode a table with a boolean key')\n"
         "fails({deep = {[1.5] = 1}}, 'cannot encode a table with a float key at deep')\n"
         "fails({f = print}, 'cannot encode a function at f')\n"
         "fails({['a b'] = {co = coroutine.create(print)}}, 'cannot encode a thread at [\"a b\"].co')\n"
         "fails({1, {2, {x = io.stdout}}}, 'cannot encode a userdata (FILE*) at [2][2].x')\n"
         "fails(errors.new('e'), 'cannot encode a userdata (wisp.Error)')\n"
         "fails({name = 'ok', bad = 'x\\255y'}, 'cannot encode invalid UTF-8 in a string at bad')\n"
         "fails({['k\\192\\128'] = 1}, 'cannot encode invalid UTF-8 in an object key at [\"k??\"]')\n"
         "fails('\\237\\160\\128', 'cannot encode invalid UTF-8 in a string')  -- surrogate\n"
         "fails('\\244\\144\\128\\128', 'cannot encode invalid UTF-8 in a string')  -- > U+10FFFF\n"
         "fails('\\224\\128\\128', 'cannot encode invalid UTF-8 in a string')  -- overlong\n"
         "fails('\\226\\130', 'cannot encode invalid UTF-8 in a string')  -- truncated\n"
         "-- depth: 128 tables nest fine, 129 do not\n"
         "local function nest(n) local t = {} local cur = t for i = 2, n do cur[1] = {} cur = cur[1] end return t end\n"
         "assert(json.encode(nest(128)) == string.rep('[', 127) .. '[]' .. string.rep(']', 127))\n"
         "local ok = json.encode(nest(129))\n"
         "assert(ok == nil)\n"
         "local _, err = json.encode(nest(129))\n"
         "assert(err:message():find('^cannot encode tables nested deeper than 128 levels at %[1%]'), err:message())\n"
         "-- a long path is cut, not overflowed\n"
         "local long = {} local cur = long for i = 1, 100 do local n = {} cur[string.rep('k', 30)] = n cur = n end cur.x = 0/0\n"
         "local _, e2 = json.encode(long)\n"
         "assert(e2:message():find('^cannot encode NaN at kkk') and #e2:message() < 300)");
  RUN(L, "local ok, msg = pcall(json.encode)\n"
         "assert(not ok and msg:find(\"bad argument #1 to 'json.encode' (value expected)\", 1, true), msg)\n"
         "ok, msg = pcall(json.decode, {})\n"
         "assert(not ok and msg:find(\"bad argument #1 to 'json.decode' (string expected, got table)\", 1, true), msg)\n"
         "ok, msg = pcall(json.decode, 12)\n"
         "assert(not ok and msg:find(\"'json.decode' (string expected, got number)\", 1, true), msg)\n"
         "ok, msg = pcall(json.decode)\n"
         "assert(not ok and msg:find(\"'json.decode' (string expected, got no value)\", 1, true), msg)");
  lua_close(L);
}

static void test_decode(void) {
  lua_State *L = new_state();
  RUN(L, "assert(json.decode('1') == 1 and math.type(json.decode('1')) == 'integer')\n"
         "assert(math.type(json.decode('1.0')) == 'float' and json.decode('1.0') == 1)\n"
         "assert(math.type(json.decode('1e2')) == 'float' and json.decode('-0.5') == -0.5)\n"
         "assert(json.decode('-9223372036854775808') == math.mininteger)\n"
         "assert(json.decode('true') == true and json.decode('false') == false)\n"
         "assert(json.decode(' \"x\" ') == 'x' and json.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"') == '\\u{e9}\\u{1F600}')\n"
         "assert(json.decode('\"a\\\\u0000b\"') == 'a\\0b')\n"
         "local v, err = json.decode('null')\n"
         "assert(v == nil and err == nil)\n"
         "local t = json.decode('{\"a\":1,\"b\":null,\"c\":[1,null,3],\"d\":{},\"e\":[]}')\n"
         "assert(t.a == 1 and t.b == nil and t.d and next(t.d) == nil and #t.e == 0)\n"
         "assert(#t.c == 3 and t.c[2] == json.null and t.c[3] == 3)\n"
         "local n = 0 for _ in pairs(t) do n = n + 1 end\n"
         "assert(n == 4, 'null members vanish')\n"
         "-- duplicate keys: the last wins\n"
         "assert(json.decode('{\"k\":1,\"k\":2}').k == 2)");
  RUN(L, "dec_fails('', '^invalid JSON at line 1, column 0: ')\n"
         "dec_fails('[1,', '^invalid JSON at line 1, column 3: ')\n"
         "dec_fails('{\"a\": 1,\\n \"b\": tru}', '^invalid JSON at line 2, column %d+: invalid token near')\n"
         "dec_fails('[1]\\n\\n  x', '^invalid JSON at line 3, column 3: end of file expected')\n"
         "dec_fails('[1,]', 'unexpected token')\n"
         "dec_fails('{\"a\" 1}', 'line 1')\n"
         "dec_fails('\"\\255\"', 'unable to decode byte 0xff')\n"
         "dec_fails('\"\\\\ud800\"', 'invalid Unicode')\n"
         "dec_fails('123456789012345678901234567890', 'too big integer')\n"
         "dec_fails('1e400', 'real number overflow')\n"
         "dec_fails('NaN', 'invalid token')\n"
         "dec_fails('{\"a\\\\u0000\":1}', 'NUL byte in object key')\n"
         "assert(json.decode(string.rep('[', 128) .. string.rep(']', 128)))\n"
         "dec_fails(string.rep('[', 129) .. string.rep(']', 129), 'nested deeper than 128 levels')\n"
         "dec_fails(string.rep('{\"a\":', 129) .. '1' .. string.rep('}', 129), 'nested deeper than 128')");
  lua_close(L);
}

static void test_round_trips(void) {
  lua_State *L = new_state();
  RUN(L, "local docs = {\n"
         "  '{\"a\":[1,2.5,\"x\",true,false,null,{\"b\":[]}],\"c\":{\"d\":-1.0e-300}}',\n"
         "  '[0.1,0.2,0.30000000000000004,1e+100,-0.0,5e-324,1.7976931348623157e+308]',\n"
         "  '{\"id\":9007199254740993,\"neg\":-42,\"f\":42.0,\"s\":\"\\\\n\\\\t\\\\\\\\ \\\\u0001 \\\\u00e9\"}',\n"
         "  '[[[[[[[[[[1]]]]]]]]]]', '\"\"', '0', '[null,null]', '{\"\":\"\"}',\n"
         "}\n"
         "for _, d in ipairs(docs) do\n"
         "  local once = assert(json.encode(assert(json.decode(d) ~= nil and json.decode(d))))\n"
         "  local twice = assert(json.encode(json.decode(once)))\n"
         "  assert(once == twice, once .. ' vs ' .. twice)\n"
         "end\n"
         "-- floats survive bit-exactly and keep their subtype\n"
         "for _, x in ipairs{0.1, 1/3, math.pi, 1e-310, 2^63, -2^-1074, 123.0, 1e15, 1e16, 1e17} do\n"
         "  local y = json.decode(json.encode(x))\n"
         "  assert(y == x and math.type(y) == 'float', tostring(x))\n"
         "end\n"
         "for _, x in ipairs{0, 1, -1, math.maxinteger, math.mininteger, 2^53|0} do\n"
         "  local y = json.decode(json.encode(x))\n"
         "  assert(y == x and math.type(y) == 'integer', tostring(x))\n"
         "end\n"
         "local t = {user = {name = 'Ann', tags = {'a', 'b'}, score = 9.5, id = 7}, ok = true}\n"
         "local back = json.decode(json.encode(t))\n"
         "assert(back.user.name == 'Ann' and back.user.tags[2] == 'b' and back.user.score == 9.5)\n"
         "assert(math.type(back.user.id) == 'integer' and back.ok == true)\n"
         "-- arrays with nulls come back with json.null in place\n"
         "assert(json.encode(json.decode('[1,null,3]')) == '[1,null,3]')");
  lua_close(L);
}

static void test_c_bridge(void) {
  lua_State *L = new_state();
  CHECK(run(L, "t = {b = {1, 2.5, 'x'}, a = true, n = 0/0, e = errors.new{message = 'boom', kind = 'Internal'},\n"
               "     bad = 'x\\255'}"));
  lua_getglobal(L, "t");
  int top = lua_gettop(L);
  json_t *v = wjson_from_lua(L, -1, WJSON_LENIENT | WJSON_ERR_MESSAGE);
  CHECK(v != NULL);
  CHECK_EQ(lua_gettop(L), top);
  if (v) {
    CHECK(json_is_object(v));
    const char *first = json_object_iter_key(json_object_iter(v));
    CHECK_STR(first, "a"); /* sorted */
    CHECK_STR(json_string_value(json_object_get(v, "n")), "NaN");
    CHECK_STR(json_string_value(json_object_get(v, "e")), "boom");
    CHECK_EQ(json_string_length(json_object_get(v, "bad")), 2);
    json_t *b = json_object_get(v, "b");
    CHECK(json_is_integer(json_array_get(b, 0)) && json_is_real(json_array_get(b, 1)));
    json_decref(v);
  }
  /* strict mode reports like json.encode */
  v = wjson_from_lua(L, -1, 0);
  CHECK(v == NULL);
  CHECK_EQ(lua_gettop(L), top + 1);
  CHECK_STR(lua_tostring(L, -1), "cannot encode invalid UTF-8 in a string at bad");
  lua_settop(L, 0);

  /* cycles and failures free everything (ASan would report leaks) */
  CHECK(run(L, "c = {x = {1, 2, {}}}; c.x[3].back = c"));
  lua_getglobal(L, "c");
  v = wjson_from_lua(L, 1, WJSON_LENIENT);
  CHECK(v == NULL);
  CHECK_STR(lua_tostring(L, -1), "cannot encode a cycle (table contains itself) at x[3].back");
  lua_settop(L, 0);

  json_error_t jerr;
  json_t *doc = json_loads("{\"a\":[1,null,{\"b\":null,\"c\":2.0}],\"z\":null}", 0, &jerr);
  CHECK(doc != NULL);
  CHECK_EQ(wjson_push(L, doc), 1);
  lua_setglobal(L, "pushed");
  json_decref(doc);
  RUN(L, "assert(pushed.a[2] == json.null and pushed.a[3].c == 2.0 and pushed.a[3].b == nil)\n"
         "assert(math.type(pushed.a[1]) == 'integer' and math.type(pushed.a[3].c) == 'float')\n"
         "assert(pushed.z == nil)");
  lua_close(L);
}

/* jansson_decode(s): the jansson path alone (json_loadb + wjson_push), for comparisons. */
static int jansson_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  json_error_t jerr;
  json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!v) {
    lua_pushnil(L);
    lua_pushstring(L, jerr.text);
    return 2;
  }
  int ok = wjson_push(L, v);
  json_decref(v);
  if (!ok) {
    lua_pushnil(L);
    lua_pushliteral(L, "too deep");
    return 2;
  }
  return 1;
}

static void test_fast_path_agrees(void) {
  lua_State *L = new_state();
  lua_register(L, "jansson_decode", jansson_decode);
  RUN(L, "local function same(a, b)\n"
         "  if type(a) ~= type(b) then return false end\n"
         "  if type(a) == 'number' then return math.type(a) == math.type(b) and (a == b or a ~= a and b ~= b) end\n"
         "  if type(a) ~= 'table' then return a == b end\n"
         "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
         "  for k in pairs(b) do if a[k] == nil then return false end end\n"
         "  return true\n"
         "end\n"
         "local docs = {\n"
         "  '{\"k\":1,\"k\":null}', '{\"k\":null,\"k\":2}', '[-0, -0.0, 0e0, 1E5, 1e-400, -1e-400, 1.5e+3]',\n"
         "  '\"\\\\/\\\\\\\\\\\\\"\\\\b\\\\f\\\\n\\\\r\\\\t\\\\u0041\\\\u00e9\\\\u20AC\\\\uD834\\\\uDD1E\"',\n"
         "  '{\"\\\\u00e9t\\\\u00e9\":{\"a\\\\nb\":[]}}', ' \\t\\r\\n[ 1 , 2 ] \\n',\n"
         "  '9223372036854775807', '-9223372036854775808', '9223372036854775808', '-9223372036854775809',\n"
         "  '0.' .. string.rep('1', 80), '1' .. string.rep('0', 30) .. '.5', '[1,2,]', '{\"a\":1,}', '01', '-',\n"
         "  '1.', '.5', '1e', '+1', '[1 2]', '{\"a\" 1}', '{1:2}', 'tru', 'nul', '\"\\\\x\"', '\"\\\\u12\"',\n"
         "  '\"\\\\udc00\"', '\"\\\\ud800\\\\u0041\"', '\"a\\0b\"', '\"\\\\u0000\"', '{\"\\\\u0000\":1}', '\"\\1\"',\n"
         "  '\"\\xc3\\xa9\"', '\"\\xc3\"', '\"\\xed\\xa0\\x80\"', '[' .. string.rep('[', 130) .. string.rep(']', 131),\n"
         "  '[]', '{}', '\"\"', 'null', 'true', 'false', '[null]', '{\"a\":[null,{\"b\":null}]}', '', ' ',\n"
         "}\n"
         "for i, d in ipairs(docs) do\n"
         "  local a, ea = json.decode(d)\n"
         "  local b, eb = jansson_decode(d)\n"
         "  assert((ea == nil) == (eb == nil), ('doc %d %q: %s vs %s'):format(i, d, tostring(ea), tostring(eb)))\n"
         "  assert(same(a, b), ('doc %d %q decodes differently'):format(i, d))\n"
         "end\n"
         "local t = json.decode('{\"k\":1,\"k\":null}')\n"
         "assert(next(t) == nil)\n"
         "assert(json.decode('\"\\\\uD834\\\\uDD1E\"') == '\\u{1D11E}')\n"
         "assert(math.type(json.decode('-0')) == 'integer' and math.type(json.decode('1E5')) == 'float')");
  lua_close(L);
}

static void test_speed(void) {
  /* Not a benchmark, a guard: a ~1 KiB message must encode and decode in well under 100 us
   * even under sanitizers. */
  lua_State *L = new_state();
  RUN(L, "msg = {type = 'order', id = 123456, items = {}, customer = {name = 'Jane Doe',\n"
         "  email = 'jane@example.com', address = {street = '1 Main St', city = 'Springfield',\n"
         "  zip = '12345'}}, total = 99.95, paid = true}\n"
         "for i = 1, 12 do msg.items[i] = {sku = 'SKU-' .. i, qty = i, price = i * 1.25,\n"
         "  name = 'Item number ' .. i} end\n"
         "text = json.encode(msg)\n"
         "assert(#text > 700 and #text < 1400, #text)");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  RUN(L, "for i = 1, 2000 do local s = json.encode(msg); local v = json.decode(s) end");
  clock_gettime(CLOCK_MONOTONIC, &b);
  double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / 2000;
  printf("json: encode+decode of a ~1 KiB message: %.1f us\n", us);
  CHECK(us < 1000);
  lua_close(L);
}

TEST_MAIN(test_encode_scalars, test_encode_tables, test_encode_errors, test_decode,
          test_round_trips, test_c_bridge, test_fast_path_agrees, test_speed)
