/* tests/unit/test_logger.c — core/log (formats, levels, runtime helpers, no interleaving across
 * threads) and the Lua logger module, with output captured through wlog_set_fd. */
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "core/log.h"
#include "stdlib/errors.h"
#include "stdlib/json.h"
#include "stdlib/stdlib.h"
#include "tests/unit/t.h"

static int cap_fd = -1;

static void cap_reset(void) {
  if (cap_fd < 0) {
    char tmpl[] = "/tmp/wisp_test_logXXXXXX";
    cap_fd = mkstemp(tmpl);
    unlink(tmpl);
  }
  CHECK(ftruncate(cap_fd, 0) == 0);
  lseek(cap_fd, 0, SEEK_SET);
  wlog_set_fd(cap_fd);
}

/* Returns everything logged since the last reset (malloc'd) and resets. */
static char *cap_take(size_t *len) {
  off_t n = lseek(cap_fd, 0, SEEK_CUR);
  char *buf = malloc((size_t)n + 1);
  ssize_t got = pread(cap_fd, buf, (size_t)n, 0);
  buf[got < 0 ? 0 : got] = '\0';
  if (len) *len = got < 0 ? 0 : (size_t)got;
  cap_reset();
  return buf;
}

/* Lua: take() -> captured text */
static int l_take(lua_State *L) {
  size_t n;
  char *s = cap_take(&n);
  lua_pushlstring(L, s, n);
  free(s);
  return 1;
}

/* Lua: set_level(name), set_format(name) */
static int l_set_level(lua_State *L) {
  wlog_set_level(wlog_parse_level(luaL_checkstring(L, 1)));
  return 0;
}
static int l_set_format(lua_State *L) {
  wlog_set_format(wlog_parse_format(luaL_checkstring(L, 1)));
  return 0;
}

/* Lua: set_identity(pid, entry) stores them where the runtime does. */
static int l_set_identity(lua_State *L) {
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "wisp.pid");
  lua_pushvalue(L, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, "wisp.entry");
  return 0;
}

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "errors", luaopen_wisp_errors, 1);
  luaL_requiref(L, "json", luaopen_wisp_json, 1);
  luaL_requiref(L, "logger", luaopen_wisp_logger, 0);
  lua_setglobal(L, "logger");
  lua_settop(L, 0);
  lua_register(L, "take", l_take);
  lua_register(L, "set_level", l_set_level);
  lua_register(L, "set_format", l_set_format);
  lua_register(L, "set_identity", l_set_identity);
  int rc = luaL_dostring(L,
      "TS = '%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ'\n"
      "function lines()\n"
      "  local out, objs, raw = take(), {}, {}\n"
      "  for line in out:gmatch('[^\\n]*\\n') do\n"
      "    raw[#raw + 1] = line:sub(1, -2)\n"
      "    objs[#objs + 1] = json.decode(line)\n"
      "  end\n"
      "  return objs, raw\n"
      "end\n"
      "function one()\n"
      "  local objs, raw = lines()\n"
      "  assert(#raw == 1, 'expected one line, got ' .. #raw)\n"
      "  return objs[1], raw[1]\n"
      "end\n"
      "function without_ts(raw)\n"
      "  local s, n = raw:gsub('^{\"ts\":\"' .. TS .. '\",', '{')\n"
      "  assert(n == 1, 'no ts in ' .. raw)\n"
      "  return s\n"
      "end\n"
      "function raises(pattern, f, ...)\n"
      "  local ok, msg = pcall(f, ...)\n"
      "  assert(not ok, 'expected an error: ' .. pattern)\n"
      "  assert(tostring(msg):find(pattern, 1, true), msg)\n"
      "end\n");
  if (rc != LUA_OK) fprintf(stderr, "setup: %s\n", lua_tostring(L, -1));
  lua_settop(L, 0);
  wlog_set_level(WLOG_DEBUG);
  wlog_set_format(WLOG_JSON);
  cap_reset();
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

static void test_parse(void) {
  CHECK_EQ(wlog_parse_level("debug"), WLOG_DEBUG);
  CHECK_EQ(wlog_parse_level("INFO"), WLOG_INFO);
  CHECK_EQ(wlog_parse_level("warn"), WLOG_WARN);
  CHECK_EQ(wlog_parse_level("Warning"), WLOG_WARN);
  CHECK_EQ(wlog_parse_level("error"), WLOG_ERROR);
  CHECK_EQ(wlog_parse_level("fatal"), -1);
  CHECK_EQ(wlog_parse_level(""), -1);
  CHECK_EQ(wlog_parse_level(NULL), -1);
  CHECK_EQ(wlog_parse_format("json"), WLOG_JSON);
  CHECK_EQ(wlog_parse_format("TEXT"), WLOG_TEXT);
  CHECK_EQ(wlog_parse_format("yaml"), -1);
  CHECK_STR(wlog_level_name(WLOG_WARN), "warn");
  CHECK_STR(wlog_level_name(9), "?");
  wlog_set_level(WLOG_ERROR);
  CHECK_EQ(wlog_level(), WLOG_ERROR);
  CHECK(!wlog_enabled(WLOG_WARN) && wlog_enabled(WLOG_ERROR));
  wlog_set_level(WLOG_INFO);
  wlog_set_format(WLOG_TEXT);
  CHECK_EQ(wlog_format(), WLOG_TEXT);
  wlog_set_format(WLOG_JSON);
  CHECK_EQ(wlog_format(), WLOG_JSON);
}

static void test_c_writer(void) {
  lua_State *L = new_state();
  json_t *f = json_pack("{s:s, s:i, s:f, s:b, s:n, s:[i,i], s:s}", "url", "wss://x/y", "attempt", 3,
                        "ratio", 0.1, "tls", 1, "none", "list", 1, 2, "msg", "clash");
  CHECK(f != NULL);
  /* jansson's checked constructors refuse invalid UTF-8; the writer must still cope */
  json_object_set_new(f, "bin", json_stringn_nocheck("a\xff" "b\x01", 4));
  wlog_emit(WLOG_WARN, "dial \"failed\"\n", f);
  json_decref(f);
  wlog_emit(WLOG_DEBUG, "no fields", NULL);
  wlog_runtime(WLOG_ERROR, "actor failed", "pid", "7", "reason", NULL, NULL);
  wlog_pack(WLOG_INFO, "restarting", "{s:s, s:I}", "service", "app:svc", "attempt", (json_int_t)2);
  wlog_pack(WLOG_INFO, "bad pack", "{s:q}", "x", 1);
  wlog_emit(99, "ignored: bad level", NULL);
  RUN(L, "local objs, raw = lines()\n"
         "assert(#raw == 5, #raw)\n"
         "assert(without_ts(raw[1]) == '{\"level\":\"warn\",\"msg\":\"dial \\\\\"failed\\\\\"\\\\n\",'\n"
         "  .. '\"url\":\"wss://x/y\",\"attempt\":3,\"ratio\":0.1,\"tls\":true,\"none\":null,\"list\":[1,2],'\n"
         "  .. '\"fields.msg\":\"clash\",\"bin\":\"a\\u{FFFD}b\\\\u0001\"}', raw[1])\n"
         "assert(without_ts(raw[2]) == '{\"level\":\"debug\",\"msg\":\"no fields\"}', raw[2])\n"
         "assert(without_ts(raw[3]) == '{\"level\":\"error\",\"msg\":\"actor failed\",\"pid\":\"7\",\"reason\":null}', raw[3])\n"
         "assert(without_ts(raw[4]) == '{\"level\":\"info\",\"msg\":\"restarting\",\"service\":\"app:svc\",\"attempt\":2}', raw[4])\n"
         "assert(objs[5].msg == 'bad pack' and objs[5].log_error, raw[5])\n"
         "assert(objs[1].ts:match('^' .. TS .. '$'))");

  /* text format */
  wlog_set_format(WLOG_TEXT);
  f = json_pack("{s:s, s:s, s:s, s:f, s:[i,i], s:{s:i}, s:b, s:s}", "a", "plain", "b",
                "has space", "c", "", "d", 1.5, "e", 1, 2, "f", "k", 1, "g", 0, "h", "x=y");
  wlog_emit(WLOG_INFO, "hello\tworld\nnext", f);
  json_decref(f);
  wlog_runtime(WLOG_ERROR, "bye", "level", "clash", NULL);
  wlog_set_format(WLOG_JSON);
  RUN(L, "local out = take()\n"
         "local l1, l2 = out:match('^([^\\n]*)\\n([^\\n]*)\\n$')\n"
         "assert(l1, out)\n"
         "local want = ' INFO  hello\\\\tworld\\\\nnext a=plain b=\"has space\" c=\"\" d=1.5 e=[1,2] f={\"k\":1} g=false h=\"x=y\"'\n"
         "assert(l1:match('^' .. TS .. '(.*)$') == want, l1)\n"
         "assert(l2:match('^' .. TS .. '(.*)$') == ' ERROR bye fields.level=clash', l2)");
  lua_close(L);
}

static void test_logger_basic(void) {
  lua_State *L = new_state();
  RUN(L, "logger:info('hello', {user = 'ann', n = 3, ok = true, ratio = 0.5, tags = {'a', 'b'},\n"
         "  meta = {k = 1}, empty = {}})\n"
         "local o, raw = one()\n"
         "assert(without_ts(raw) == '{\"level\":\"info\",\"msg\":\"hello\",\"empty\":[],\"meta\":{\"k\":1},'\n"
         "  .. '\"n\":3,\"ok\":true,\"ratio\":0.5,\"tags\":[\"a\",\"b\"],\"user\":\"ann\"}', raw)\n"
         "logger:debug('d') logger:warn('w', {}) logger:error('e', nil)\n"
         "local objs = lines()\n"
         "assert(#objs == 3 and objs[1].level == 'debug' and objs[2].level == 'warn' and objs[3].level == 'error')\n"
         "assert(objs[3].msg == 'e' and objs[1].pid == nil and objs[1].entry == nil)");
  /* values the logger repairs instead of failing */
  RUN(L, "local err = errors.new{message = 'refused', kind = errors.UNAVAILABLE}\n"
         "logger:error('failed', {err = err, nested = {e = err, list = {err}}, nan = 0/0, inf = -1/0,\n"
         "  bin = 'x\\255y', null = json.null})\n"
         "local o = one()\n"
         "assert(o.err == 'refused' and o.nested.e == 'refused' and o.nested.list[1] == 'refused')\n"
         "assert(o.nan == 'NaN' and o.inf == '-Inf' and o.bin == 'x\\u{FFFD}y' and o.null == nil)");
  /* reserved keys are renamed, not dropped or duplicated */
  RUN(L, "set_identity(42, 'app:main')\n"
         "logger:named('svc'):info('m', {msg = 'mine', pid = 'p', level = 'l', ts = 't', logger = 'g', entry = 'e', x = 1})\n"
         "local o, raw = one()\n"
         "assert(without_ts(raw) == '{\"level\":\"info\",\"msg\":\"m\",\"logger\":\"svc\",\"pid\":42,\"entry\":\"app:main\",'\n"
         "  .. '\"fields.entry\":\"e\",\"fields.level\":\"l\",\"fields.logger\":\"g\",\"fields.msg\":\"mine\",'\n"
         "  .. '\"fields.pid\":\"p\",\"fields.ts\":\"t\",\"x\":1}', raw)\n"
         "set_identity('<0.1.2>', nil)\n"
         "logger:info('x')\n"
         "o = one()\n"
         "assert(o.pid == '<0.1.2>' and o.entry == nil)\n"
         "set_identity(nil, nil)");
  lua_close(L);
}

static void test_logger_with_named(void) {
  lua_State *L = new_state();
  RUN(L, "local svc = logger:named('svc'):with({a = 1, z = 2})\n"
         "local db = svc:named('db'):with({b = 2, z = 3})\n"
         "assert(tostring(db) == 'logger: svc.db' and tostring(logger:with({})) == 'logger')\n"
         "db:info('m', {c = 1, a = 9})\n"
         "local o, raw = one()\n"
         "assert(without_ts(raw) == '{\"level\":\"info\",\"msg\":\"m\",\"logger\":\"svc.db\",\"a\":9,\"b\":2,\"c\":1,\"z\":3}', raw)\n"
         "svc:warn('parent unchanged')\n"
         "o, raw = one()\n"
         "assert(without_ts(raw) == '{\"level\":\"warn\",\"msg\":\"parent unchanged\",\"logger\":\"svc\",\"a\":1,\"z\":2}', raw)\n"
         "logger:info('root unchanged')\n"
         "o, raw = one()\n"
         "assert(without_ts(raw) == '{\"level\":\"info\",\"msg\":\"root unchanged\"}', raw)\n"
         "-- with() converts once: later changes to the table do not show\n"
         "local t = {k = 'v'}\n"
         "local l = logger:with(t)\n"
         "t.k = 'changed'\n"
         "l:info('x')\n"
         "assert(one().k == 'v')\n"
         "-- the module table works with dot-free method calls only\n"
         "local info = logger.info\n"
         "info(logger, 'via function')\n"
         "assert(one().msg == 'via function')");
  lua_close(L);
}

static void test_logger_errors(void) {
  lua_State *L = new_state();
  RUN(L, "raises(\"bad self to 'logger:info' (logger expected, got string\", logger.info, 'x')\n"
         "raises(\"bad self to 'logger:with'\", logger.with, {}, {})\n"
         "raises(\"bad argument #1 to 'logger:info' (string expected, got number)\", logger.info, logger, 5)\n"
         "raises(\"bad argument #1 to 'logger:error' (string expected, got no value)\", logger.error, logger)\n"
         "raises(\"bad argument #2 to 'logger:warn' (table expected, got string)\", logger.warn, logger, 'm', 'f')\n"
         "raises(\"bad argument #1 to 'logger:with' (table expected, got nil)\", logger.with, logger, nil)\n"
         "raises(\"bad argument #1 to 'logger:named' (string expected, got number)\", logger.named, logger, 1)\n"
         "raises(\"logger:named: the name must not be empty\", logger.named, logger, '')\n"
         "raises('logger:info: fields: cannot encode a function at cb', logger.info, logger, 'm', {cb = print})\n"
         "local c = {} c.self = c\n"
         "raises('logger:debug: fields: cannot encode a cycle (table contains itself) at self', logger.debug, logger, 'm', c)\n"
         "raises('logger:info: fields must be a table with string keys', logger.info, logger, 'm', {1, 2})\n"
         "raises('logger:with: fields: cannot encode a mixed table', logger.with, logger, {x = {1, k = 2}})\n"
         "local named = logger:named('n')\n"
         "raises(\"bad argument #1 to 'logger:info' (string expected, got table)\", named.info, named, {})\n"
         "assert(take() == '')");
  /* below the level: nothing is written and arguments are not even looked at */
  RUN(L, "set_level('warn')\n"
         "logger:debug('d') logger:info('i', {x = print}) logger:debug(nil) logger.info('not even self')\n"
         "assert(take() == '')\n"
         "logger:warn('w') logger:error('e')\n"
         "assert(#lines() == 2)\n"
         "set_level('debug')");
  lua_close(L);
}

static void test_logger_disabled_cost(void) {
  lua_State *L = new_state();
  wlog_set_level(WLOG_INFO);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  RUN(L, "local l = logger:named('x') for i = 1, 200000 do l:debug('tick', {i = i}) end");
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 200000;
  printf("logger: a debug call below the level costs %.0f ns (with the fields table)\n", ns);
  CHECK(ns < 5000);
  size_t n;
  free(cap_take(&n));
  CHECK_EQ(n, 0);
  lua_close(L);
}

#define THREADS 4
#define PER_THREAD 300

static void *writer(void *arg) {
  char big[6000]; /* longer than PIPE_BUF: one write(2) per line still keeps lines whole */
  memset(big, 'a' + (int)(long)arg, sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < PER_THREAD; i++) {
    if (i % 2) wlog_runtime(WLOG_INFO, "tick", "payload", big, NULL);
    else wlog_pack(WLOG_WARN, "tock", "{s:i, s:i}", "thread", (int)(long)arg, "i", i);
  }
  return NULL;
}

static void test_threads(void) {
  cap_reset();
  wlog_set_level(WLOG_INFO);
  wlog_set_format(WLOG_JSON);
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, writer, (void *)i);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  size_t len;
  char *out = cap_take(&len);
  int lines = 0, bad = 0;
  for (char *p = out, *nl; (nl = memchr(p, '\n', len - (size_t)(p - out))); p = nl + 1) {
    json_error_t err;
    json_t *v = json_loadb(p, (size_t)(nl - p), 0, &err);
    if (!v || !json_is_object(v)) bad++;
    json_decref(v);
    lines++;
  }
  CHECK_EQ(lines, THREADS * PER_THREAD);
  CHECK_EQ(bad, 0);
  CHECK(len > 0 && out[len - 1] == '\n');
  free(out);
}

TEST_MAIN(test_parse, test_c_writer, test_logger_basic, test_logger_with_named,
          test_logger_errors, test_logger_disabled_cost, test_threads)
