/* tests/unit/test_errors.c — the errors module, the werr_* C API and the error codec. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include "core/buf.h"
#include "stdlib/errors.h"
#include "tests/unit/t.h"

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "errors", luaopen_wisp_errors, 1);
  lua_pop(L, 1);
  return L;
}

/* Runs a chunk; on error prints it and returns 0. */
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

static void test_kinds(void) {
  lua_State *L = new_state();
  RUN(L, "assert(errors.UNKNOWN == '' and errors.INVALID == 'Invalid')\n"
         "assert(errors.NOT_FOUND == 'NotFound' and errors.ALREADY_EXISTS == 'AlreadyExists')\n"
         "assert(errors.PERMISSION_DENIED == 'PermissionDenied' and errors.TIMEOUT == 'Timeout')\n"
         "assert(errors.CANCELED == 'Canceled' and errors.UNAVAILABLE == 'Unavailable')\n"
         "assert(errors.INTERNAL == 'Internal' and errors.CONFLICT == 'Conflict')\n"
         "assert(errors.RATE_LIMITED == 'RateLimited')");
  lua_close(L);
}

static void test_new(void) {
  lua_State *L = new_state();
  RUN(L, "local e = errors.new('boom')\n"
         "assert(type(e) == 'userdata')\n"
         "assert(e:kind() == '' and e:message() == 'boom' and e:retryable() == false)\n"
         "assert(e:details() == nil)\n"
         "assert(tostring(e) == 'boom')\n"
         "assert(e:stack():find('^stack traceback:'), e:stack())\n"
         "assert(e:stack():find('in main chunk'), e:stack())\n"
         "assert(not e:stack():find('[C]', 1, true), e:stack())");
  RUN(L, "local d = {stage = 'tls', status = 502, nested = {1, 2, {x = true}}, f = 1.5}\n"
         "local e = errors.new{message = 'bad duration \"x\"', kind = errors.INVALID,\n"
         "                     retryable = true, details = d}\n"
         "assert(tostring(e) == 'Invalid: bad duration \"x\"', tostring(e))\n"
         "assert(e:kind() == 'Invalid' and e:retryable() == true)\n"
         "local got = e:details()\n"
         "assert(got.stage == 'tls' and got.status == 502 and got.nested[3].x == true)\n"
         "assert(math.type(got.status) == 'integer' and got.f == 1.5)\n"
         "-- copies in and out: neither the input nor a returned table changes the error\n"
         "d.stage = 'dns'; got.status = 0; got.nested[1] = 9\n"
         "local again = e:details()\n"
         "assert(again.stage == 'tls' and again.status == 502 and again.nested[1] == 1)\n"
         "assert(again ~= got)");
  RUN(L, "local e = errors.new{message = 'm'}\n"
         "assert(e:kind() == '' and e:retryable() == false and e:details() == nil)\n"
         "local e2 = errors.new{message = '', kind = errors.UNKNOWN, retryable = false}\n"
         "assert(tostring(e2) == '')");
  /* embedded NUL survives */
  RUN(L, "local e = errors.new{message = 'a\\0b', kind = errors.INTERNAL}\n"
         "assert(e:message() == 'a\\0b' and tostring(e) == 'Internal: a\\0b')");
  lua_close(L);
}

static void test_new_rejects(void) {
  lua_State *L = new_state();
  RUN(L, "local function fails(arg, pattern)\n"
         "  local ok, msg = pcall(errors.new, arg)\n"
         "  assert(not ok, 'expected failure for ' .. pattern)\n"
         "  assert(type(msg) == 'string' and msg:find(pattern, 1, true), msg)\n"
         "end\n"
         "fails(nil, \"'errors.new' (string or table expected, got nil)\")\n"
         "fails(42, \"'errors.new' (string or table expected, got number)\")\n"
         "fails({message = 'x', msg = 'y'}, \"unknown field 'msg'\")\n"
         "fails({message = 'x', [1] = 'y'}, 'unknown field (a number key)')\n"
         "fails({}, \"field 'message' must be a string (got nil)\")\n"
         "fails({message = 5}, \"field 'message' must be a string (got number)\")\n"
         "fails({message = 'x', kind = 5}, \"field 'kind' must be a string (got number)\")\n"
         "fails({message = 'x', kind = 'Invlid'}, \"field 'kind' must be one of\")\n"
         "fails({message = 'x', retryable = 'yes'}, \"field 'retryable' must be a boolean (got string)\")\n"
         "fails({message = 'x', details = 'd'}, \"field 'details' must be a table (got string)\")\n"
         "fails({message = 'x', details = {f = print}}, \"field 'details': details may hold only\")\n"
         "fails({message = 'x', details = {[true] = 1}}, 'details keys must be strings or integers (got boolean)')\n"
         "fails({message = 'x', details = {[1.5] = 1}}, 'details keys must be strings or integers (got float)')\n"
         "local cyc = {}; cyc.self = cyc\n"
         "fails({message = 'x', details = cyc}, 'details nest deeper than 32 levels')");
  lua_close(L);
}

static void test_wrap_and_is(void) {
  lua_State *L = new_state();
  RUN(L, "local function origin()\n"
         "  return errors.new{message = 'connection refused', kind = errors.UNAVAILABLE,\n"
         "                    retryable = true, details = {stage = 'tcp'}}\n"
         "end\n"
         "local inner = origin()\n"
         "local outer = errors.wrap(inner, 'dial example.com')\n"
         "assert(outer ~= inner)\n"
         "assert(outer:message() == 'dial example.com: connection refused', outer:message())\n"
         "assert(tostring(outer) == 'Unavailable: dial example.com: connection refused')\n"
         "assert(outer:kind() == 'Unavailable' and outer:retryable() == true)\n"
         "assert(outer:details().stage == 'tcp')\n"
         "assert(outer:stack() == inner:stack() and outer:stack():find('origin'), outer:stack())\n"
         "local twice = errors.wrap(outer, 'start')\n"
         "assert(twice:message() == 'start: dial example.com: connection refused')\n"
         "assert(errors.is(twice, errors.UNAVAILABLE) and errors.is(inner, 'Unavailable'))\n"
         "assert(not errors.is(twice, errors.INVALID))\n"
         "assert(not errors.is('Unavailable', errors.UNAVAILABLE))\n"
         "assert(not errors.is(nil, errors.UNKNOWN))\n"
         "assert(errors.is(errors.new('x'), errors.UNKNOWN))");
  RUN(L, "local s = errors.wrap('plain failure', 'ctx')\n"
         "assert(s:message() == 'ctx: plain failure' and s:kind() == '' and not s:retryable())\n"
         "assert(s:stack():find('main chunk'))\n"
         "assert(errors.wrap(nil, 'ctx'):message() == 'ctx: nil')\n"
         "assert(errors.wrap(12, 'ctx'):message() == 'ctx: 12')\n"
         "local t = setmetatable({}, {__tostring = function() return 'custom' end})\n"
         "assert(errors.wrap(t, 'ctx'):message() == 'ctx: custom')\n"
         "local ok, msg = pcall(errors.wrap, errors.new('x'))\n"
         "assert(not ok and msg:find(\"bad argument #2 to 'errors.wrap' (string expected, got no value)\", 1, true), msg)\n"
         "ok, msg = pcall(errors.wrap)\n"
         "assert(not ok and msg:find(\"bad argument #1 to 'errors.wrap'\", 1, true), msg)\n"
         "ok, msg = pcall(errors.is, errors.new('x'), 5)\n"
         "assert(not ok and msg:find(\"bad argument #2 to 'errors.is' (string expected, got number)\", 1, true), msg)");
  lua_close(L);
}

static void test_error_through_pcall(void) {
  lua_State *L = new_state();
  RUN(L, "local e = errors.new{message = 'nope', kind = errors.PERMISSION_DENIED}\n"
         "local ok, got = pcall(function() error(e) end)\n"
         "assert(not ok and rawequal(got, e))\n"
         "assert(got:kind() == 'PermissionDenied')\n"
         "local co = coroutine.wrap(function() error(e) end)\n"
         "ok, got = pcall(co)\n"
         "assert(not ok and rawequal(got, e))");
  RUN(L, "local e = errors.new('m')\n"
         "local ok, msg = pcall(e.kind)\n"
         "assert(not ok and msg:find(\"err:kind\", 1, true), msg)\n"
         "ok, msg = pcall(e.message, {})\n"
         "assert(not ok and msg:find('wisp.Error expected, got table', 1, true), msg)");
  lua_close(L);
}

static void test_stack_capped(void) {
  lua_State *L = new_state();
  RUN(L, "local function deep(n) if n == 0 then return errors.new('deep') end\n"
         "  local e = deep(n - 1); return e end\n"
         "local e = deep(50)\n"
         "local s = e:stack()\n"
         "local lines = select(2, s:gsub('\\n', '\\n'))\n"
         "assert(lines == 13, lines)\n"
         "assert(s:find('\\n\\t%.%.%.$'), s)\n"
         "assert(s:find(\"in upvalue 'deep'\") or s:find(\"in local 'deep'\"), s)");
  lua_close(L);
}

/* A C function that fails through the C API: fail(kind, retryable, n). */
static int c_fail(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  int retry = lua_toboolean(L, 2);
  int n = (int)luaL_checkinteger(L, 3);
  int r = werr_fail(L, kind, retry, "value %d out of range %s (%zu)", n, "1-10", (size_t)7);
  lua_newtable(L);
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "got");
  werr_set_details(L, -2);
  return r;
}

static int c_long(lua_State *L) {
  char big[1000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  return werr_push(L, WERR_INTERNAL, false, "%s|%s", big, big);
}

static void test_c_api(void) {
  lua_State *L = new_state();
  lua_register(L, "cfail", c_fail);
  lua_register(L, "clong", c_long);
  RUN(L, "local v, e = cfail(errors.TIMEOUT, true, 42)\n"
         "assert(v == nil)\n"
         "assert(tostring(e) == 'Timeout: value 42 out of range 1-10 (7)', tostring(e))\n"
         "assert(e:retryable() and e:details().got == 42)\n"
         "assert(e:stack():find(\"in function 'cfail'\"), e:stack())\n"
         "local l = clong()\n"
         "assert(#l:message() == 1999 and l:kind() == 'Internal')");

  lua_settop(L, 0);
  werr_push(L, WERR_NOT_FOUND, false, "no such %s", "thing");
  CHECK(werr_is(L, -1));
  CHECK_STR(werr_kind(L, -1), "NotFound");
  CHECK_STR(werr_message(L, 1), "no such thing");
  CHECK(!werr_retryable(L, 1));
  luaL_tolstring(L, 1, NULL);
  CHECK_STR(lua_tostring(L, -1), "NotFound: no such thing");
  lua_pop(L, 1);
  lua_pushstring(L, "not an error");
  CHECK(!werr_is(L, -1));
  CHECK(werr_kind(L, -1) == NULL && werr_message(L, -1) == NULL && !werr_retryable(L, -1));
  /* details: nil clears, bad data raises */
  lua_pushnil(L);
  werr_set_details(L, 1);
  lua_settop(L, 1);
  RUN(L, "return 1");
  lua_settop(L, 0);
  werr_push(L, "", false, "x");
  CHECK_STR(werr_kind(L, 1), "");
  lua_close(L);
}

static int push_err_via_lua(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    return 0;
  }
  return werr_is(L, -1);
}

static void test_codec(void) {
  lua_State *L = new_state();
  CHECK(push_err_via_lua(L, "return errors.new{message = 'm\\0x', kind = errors.CONFLICT,\n"
                            "  retryable = true, details = {stage = 'tls', code = -7, ratio = 0.25,\n"
                            "  ok = false, list = {'a', 'b', {deep = {deeper = true}}}, [3] = 'three'}}"));
  wbuf out = WBUF_INIT;
  CHECK_EQ(werr_encode(L, -1, &out), 0);
  size_t len = out.len;
  CHECK(len > 10);
  lua_setglobal(L, "orig");

  int top = lua_gettop(L);
  CHECK_EQ(werr_decode(L, out.data, out.len), 0);
  CHECK_EQ(lua_gettop(L), top + 1);
  lua_setglobal(L, "copy");
  RUN(L, "assert(copy ~= orig)\n"
         "assert(copy:message() == 'm\\0x' and copy:kind() == 'Conflict' and copy:retryable())\n"
         "assert(copy:stack() == orig:stack())\n"
         "local d = copy:details()\n"
         "assert(d.stage == 'tls' and d.code == -7 and math.type(d.code) == 'integer')\n"
         "assert(d.ratio == 0.25 and d.ok == false and d[3] == 'three')\n"
         "assert(d.list[1] == 'a' and d.list[3].deep.deeper == true)\n"
         "assert(errors.is(copy, errors.CONFLICT) and tostring(copy) == tostring(orig))");

  /* Every truncation and a trailing byte are rejected without touching the stack. */
  for (size_t n = 0; n < len; n++) {
    CHECK_EQ(werr_decode(L, out.data, n), -1);
    CHECK_EQ(lua_gettop(L), top);
  }
  wbuf_putc(&out, 0);
  CHECK_EQ(werr_decode(L, out.data, out.len), -1);
  out.len = len;
  /* corrupted header and lengths */
  char *bad = malloc(len);
  memcpy(bad, out.data, len);
  bad[0] = 9;
  CHECK_EQ(werr_decode(L, bad, len), -1);
  memcpy(bad, out.data, len);
  bad[1] = 0x7f;
  CHECK_EQ(werr_decode(L, bad, len), -1);
  memcpy(bad, out.data, len);
  bad[2] = (char)0xff; /* kind length far beyond the input */
  CHECK_EQ(werr_decode(L, bad, len), -1);
  /* pseudo-random mutations never crash or leak the stack */
  unsigned seed = 12345;
  for (int round = 0; round < 20000; round++) {
    memcpy(bad, out.data, len);
    for (int k = 0; k < 3; k++) {
      seed = seed * 1103515245u + 12345u;
      bad[(seed >> 8) % len] = (char)(seed >> 20);
    }
    int rc = werr_decode(L, bad, len);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) lua_pop(L, 1);
    if (lua_gettop(L) != top) {
      CHECK_EQ(lua_gettop(L), top);
      break;
    }
  }
  free(bad);

  /* no details, not retryable */
  wbuf_reset(&out);
  werr_push(L, WERR_UNKNOWN, false, "plain");
  CHECK_EQ(werr_encode(L, -1, &out), 0);
  lua_pop(L, 1);
  CHECK_EQ(werr_decode(L, out.data, out.len), 0);
  CHECK_STR(werr_message(L, -1), "plain");
  CHECK_STR(werr_kind(L, -1), "");
  lua_pop(L, 1);

  /* not an error: -1 and nothing appended */
  wbuf_reset(&out);
  lua_pushinteger(L, 1);
  CHECK_EQ(werr_encode(L, -1, &out), -1);
  CHECK_EQ(out.len, 0);
  lua_pop(L, 1);
  wbuf_free(&out);
  lua_close(L);
}

TEST_MAIN(test_kinds, test_new, test_new_rejects, test_wrap_and_is, test_error_through_pcall,
          test_stack_capped, test_c_api, test_codec)
