/* stdlib/time.c — the `time` module (SPEC.md "time"): Time and Duration values, sleep, after,
 * timer and ticker. Timers live on the net thread's timer wheel; their expiries come back as
 * MB_TIMER mailbox entries and are delivered to an ordinary local channel, so they mix with
 * every other channel in select.
 * Accounting invariant: actor.ext_pending counts this actor's armed timers exactly (armed on
 * start/reset, disarmed on one-shot delivery, stop, reset or collection), which is what
 * deadlock detection relies on. A stale expiry (stopped or reset timer) finds no armed timer
 * under its id and is ignored. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "actors/actor.h"
#include "core/clock.h"
#include "core/codec.h"
#include "core/duration.h"
#include "net/netloop.h"
#include "stdlib/channel.h"
#include "stdlib/errors.h"
#include "stdlib/stdlib.h"
#include "stdlib/time.h"

#define TIME_MT "wisp.Time"
#define DURATION_MT "wisp.Duration"
#define TIMER_MT "wisp.Timer"
#define TICKER_MT "wisp.Ticker"

enum timer_kind { TK_AFTER, TK_TIMER, TK_TICKER };

typedef struct wtimer {
  uint64_t id; /* current net timer id; 0 when not armed */
  int kind;
  int64_t period;
} wtimer;

typedef struct wtime { int64_t ns; } wtime;
typedef struct wdur { int64_t ns; } wdur;

/* ---- values ---- */

static void ensure_types(lua_State *L, const char *mt) {
  if (luaL_getmetatable(L, mt) == LUA_TNIL) time_open_types(L);
  lua_pop(L, 1);
}

void time_push(lua_State *L, int64_t unix_ns) {
  ensure_types(L, TIME_MT);
  wtime *t = lua_newuserdatauv(L, sizeof *t, 0);
  t->ns = unix_ns;
  luaL_setmetatable(L, TIME_MT);
}

void duration_push(lua_State *L, int64_t ns) {
  ensure_types(L, DURATION_MT);
  wdur *d = lua_newuserdatauv(L, sizeof *d, 0);
  d->ns = ns;
  luaL_setmetatable(L, DURATION_MT);
}

static wtime *check_time(lua_State *L, int i) { return luaL_checkudata(L, i, TIME_MT); }
static wdur *check_dur(lua_State *L, int i) { return luaL_checkudata(L, i, DURATION_MT); }

int time_arg_ns(lua_State *L, int idx, const char *fname, int64_t *ns) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER: {
    if (lua_isinteger(L, idx)) { *ns = lua_tointeger(L, idx); return 0; }
    lua_Number n = lua_tonumber(L, idx);
    if (!(n >= -9.2e18 && n <= 9.2e18)) {
      werr_push(L, WERR_INVALID, false, "%s: duration %g ns is out of range", fname, n);
      return -1;
    }
    *ns = (int64_t)llround(n);
    return 0;
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char err[160];
    if (!dur_parse(s, len, ns, err, sizeof err)) {
      werr_push(L, WERR_INVALID, false, "%s: %s", fname, err);
      return -1;
    }
    return 0;
  }
  case LUA_TUSERDATA: {
    wdur *d = luaL_testudata(L, idx, DURATION_MT);
    if (d) { *ns = d->ns; return 0; }
  } /* fallthrough */
  default:
    return luaL_error(L, "bad argument #%d to '%s' (duration expected: nanoseconds, a string like \"1.5s\" or a Duration, got %s)",
                      idx, fname, luaL_typename(L, idx));
  }
}

/* ---- timers ---- */

static void push_timer_table(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)&push_timer_table) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&push_timer_table);
}

static void timer_arm(lua_State *L, int ti, wtimer *t, int64_t delay) {
  actor *a = actor_of(L);
  t->id = net_new_id();
  push_timer_table(L);
  lua_pushvalue(L, ti);
  lua_rawseti(L, -2, (lua_Integer)t->id);
  lua_pop(L, 1);
  lua_getiuservalue(L, ti, 1);
  uint64_t chan_id = chan_make_external(L, -1, t->kind == TK_TICKER);
  lua_pop(L, 1);
  a->ext_pending++;
  net_timer_start(t->id, &a->mb, chan_id, delay < 0 ? 0 : delay, t->kind == TK_TICKER ? t->period : 0);
}

/* Returns whether it was armed. */
static bool timer_disarm(lua_State *L, wtimer *t, bool tell_net) {
  if (!t->id) return false;
  if (tell_net) net_timer_stop(t->id);
  push_timer_table(L);
  lua_pushnil(L);
  lua_rawseti(L, -2, (lua_Integer)t->id);
  lua_pop(L, 1);
  t->id = 0;
  actor_of(L)->ext_pending--;
  return true;
}

/* Pushes a new timer object whose channel (capacity 1) anchors it. */
static wtimer *timer_new(lua_State *L, int kind, const char *mt) {
  wtimer *t = lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  t->kind = kind;
  luaL_setmetatable(L, mt);
  int ti = lua_gettop(L);
  chan_push_new(L, 1);
  chan_set_anchor(L, -1, ti);
  lua_setiuservalue(L, ti, 1);
  return t;
}

static void on_timer(lua_State *L, actor *a, mbox_entry *e) {
  push_timer_table(L);
  lua_rawgeti(L, -1, (lua_Integer)e->arg);
  wtimer *t = lua_touserdata(L, -1);
  if (!t || t->id != e->arg) { lua_pop(L, 2); return; }
  int ti = lua_gettop(L);
  int kind = t->kind;
  if (kind != TK_TICKER) timer_disarm(L, t, false);
  int64_t ns = 0;
  if (e->len >= sizeof ns) memcpy(&ns, e->data, sizeof ns);
  lua_getiuservalue(L, ti, 1);
  int ci = lua_gettop(L);
  time_push(L, ns);
  chan_deliver(L, ci);
  if (kind == TK_AFTER) chan_close(L, ci);
  lua_settop(L, ti - 2);
}

static int timer_gc(lua_State *L) {
  wtimer *t = lua_touserdata(L, 1);
  if (t && t->id) { /* collected while armed: the weak table entry is already gone */
    net_timer_stop(t->id);
    t->id = 0;
    actor *a = actor_of(L);
    if (a) a->ext_pending--;
  }
  return 0;
}

/* ---- module functions ---- */

static int k_sleep(lua_State *L, int status, lua_KContext ctx) {
  lua_pushboolean(L, 1);
  return 1;
}

static int l_sleep(lua_State *L) {
  int64_t ns;
  if (time_arg_ns(L, 1, "time.sleep", &ns) < 0) { lua_pushnil(L); lua_insert(L, -2); return 2; }
  if (ns <= 0) { lua_pushboolean(L, 1); return 1; }
  lua_settop(L, 0);
  wtimer *t = timer_new(L, TK_AFTER, TIMER_MT);
  timer_arm(L, 1, t, ns);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, "receive");
  lua_insert(L, -2);
  lua_callk(L, 1, 2, 0, k_sleep);
  return k_sleep(L, LUA_OK, 0);
}

static int l_after(lua_State *L) {
  int64_t ns;
  if (time_arg_ns(L, 1, "time.after", &ns) < 0) { lua_pushnil(L); lua_insert(L, -2); return 2; }
  wtimer *t = timer_new(L, TK_AFTER, TIMER_MT);
  timer_arm(L, lua_gettop(L), t, ns);
  lua_getiuservalue(L, -1, 1);
  return 1;
}

static int l_timer(lua_State *L) {
  int64_t ns;
  if (time_arg_ns(L, 1, "time.timer", &ns) < 0) { lua_pushnil(L); lua_insert(L, -2); return 2; }
  wtimer *t = timer_new(L, TK_TIMER, TIMER_MT);
  timer_arm(L, lua_gettop(L), t, ns);
  return 1;
}

static int l_ticker(lua_State *L) {
  int64_t ns;
  if (time_arg_ns(L, 1, "time.ticker", &ns) < 0) { lua_pushnil(L); lua_insert(L, -2); return 2; }
  if (ns <= 0) return werr_fail(L, WERR_INVALID, false, "time.ticker: the period must be positive");
  wtimer *t = timer_new(L, TK_TICKER, TICKER_MT);
  t->period = ns;
  timer_arm(L, lua_gettop(L), t, ns);
  return 1;
}

static wtimer *check_timer(lua_State *L) {
  wtimer *t = luaL_testudata(L, 1, TIMER_MT);
  if (!t) t = luaL_checkudata(L, 1, TICKER_MT);
  return t;
}

static int m_channel(lua_State *L) {
  check_timer(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int m_stop(lua_State *L) {
  wtimer *t = check_timer(L);
  lua_pushboolean(L, timer_disarm(L, t, true));
  return 1;
}

static int m_reset(lua_State *L) {
  wtimer *t = check_timer(L);
  int64_t ns;
  if (time_arg_ns(L, 2, "reset", &ns) < 0) { lua_pushnil(L); lua_insert(L, -2); return 2; }
  if (t->kind == TK_TICKER) {
    if (ns <= 0) return werr_fail(L, WERR_INVALID, false, "ticker:reset: the period must be positive");
    t->period = ns;
  }
  bool was = timer_disarm(L, t, true);
  timer_arm(L, 1, t, ns);
  lua_pushboolean(L, was);
  return 1;
}

static int l_now(lua_State *L) {
  time_push(L, clock_unix_ns());
  return 1;
}

static int l_unix(lua_State *L) {
  lua_Integer sec = luaL_checkinteger(L, 1);
  lua_Integer nsec = luaL_optinteger(L, 2, 0);
  if (sec > INT64_MAX / 1000000000 - 1 || sec < INT64_MIN / 1000000000 + 1)
    return werr_fail(L, WERR_INVALID, false, "time.unix: %lld seconds is out of range", (long long)sec);
  time_push(L, (int64_t)sec * 1000000000 + (int64_t)nsec);
  return 1;
}

static int l_parse_duration(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int64_t ns;
  char err[160];
  if (!dur_parse(s, len, &ns, err, sizeof err)) return werr_fail(L, WERR_INVALID, false, "%s", err);
  duration_push(L, ns);
  return 1;
}

/* ---- Time methods ---- */

static int t_unix(lua_State *L) {
  int64_t ns = check_time(L, 1)->ns;
  int64_t s = ns / 1000000000;
  if (ns % 1000000000 < 0) s--; /* floor, like Go's Unix() */
  lua_pushinteger(L, s);
  return 1;
}
static int t_unix_nano(lua_State *L) { lua_pushinteger(L, check_time(L, 1)->ns); return 1; }
static int t_unix_milli(lua_State *L) { lua_pushinteger(L, check_time(L, 1)->ns / 1000000); return 1; }
static int t_sub(lua_State *L) { duration_push(L, check_time(L, 1)->ns - check_time(L, 2)->ns); return 1; }
static int t_add(lua_State *L) {
  int64_t ns;
  wtime *t = check_time(L, 1);
  if (time_arg_ns(L, 2, "add", &ns) < 0) return lua_error(L);
  time_push(L, t->ns + ns);
  return 1;
}
static int t_before(lua_State *L) { lua_pushboolean(L, check_time(L, 1)->ns < check_time(L, 2)->ns); return 1; }
static int t_after(lua_State *L) { lua_pushboolean(L, check_time(L, 1)->ns > check_time(L, 2)->ns); return 1; }
static int t_equal(lua_State *L) { lua_pushboolean(L, check_time(L, 1)->ns == check_time(L, 2)->ns); return 1; }
static int t_lt(lua_State *L) { return t_before(L); }
static int t_le(lua_State *L) { lua_pushboolean(L, check_time(L, 1)->ns <= check_time(L, 2)->ns); return 1; }

static void format_rfc3339(lua_State *L, int64_t ns, bool nano) {
  int64_t sec = ns / 1000000000, frac = ns % 1000000000;
  if (frac < 0) { frac += 1000000000; sec--; }
  time_t tt = (time_t)sec;
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (nano && frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", (long long)frac);
    size_t fl = strlen(f);
    while (fl > 1 && f[fl - 1] == '0') f[--fl] = 0; /* trailing zeros trimmed, as Go's RFC3339Nano */
    memcpy(buf + n, f, fl + 1);
    n += fl;
  }
  buf[n++] = 'Z';
  lua_pushlstring(L, buf, n);
}

static int t_format_rfc3339(lua_State *L) { format_rfc3339(L, check_time(L, 1)->ns, false); return 1; }
static int t_format_rfc3339_nano(lua_State *L) { format_rfc3339(L, check_time(L, 1)->ns, true); return 1; }
static int t_tostring(lua_State *L) { format_rfc3339(L, check_time(L, 1)->ns, true); return 1; }
static int t_eq(lua_State *L) { return t_equal(L); }
static int t_meta_sub(lua_State *L) {
  wtime *a = check_time(L, 1);
  if (luaL_testudata(L, 2, TIME_MT)) return t_sub(L);
  int64_t ns;
  if (time_arg_ns(L, 2, "-", &ns) < 0) return lua_error(L);
  time_push(L, a->ns - ns);
  return 1;
}

/* ---- Duration methods ---- */

static int d_ns(lua_State *L) { lua_pushinteger(L, check_dur(L, 1)->ns); return 1; }
static int d_us(lua_State *L) { lua_pushinteger(L, check_dur(L, 1)->ns / 1000); return 1; }
static int d_ms(lua_State *L) { lua_pushinteger(L, check_dur(L, 1)->ns / 1000000); return 1; }
static int d_s(lua_State *L) { lua_pushnumber(L, (double)check_dur(L, 1)->ns / 1e9); return 1; }
static int d_m(lua_State *L) { lua_pushnumber(L, (double)check_dur(L, 1)->ns / 6e10); return 1; }
static int d_h(lua_State *L) { lua_pushnumber(L, (double)check_dur(L, 1)->ns / 3.6e12); return 1; }
static int d_string(lua_State *L) {
  char buf[DUR_FORMAT_MAX];
  dur_format(check_dur(L, 1)->ns, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}
static int64_t dur_operand(lua_State *L, int i) {
  int64_t ns;
  if (time_arg_ns(L, i, "duration arithmetic", &ns) < 0) lua_error(L);
  return ns;
}
static int d_add(lua_State *L) { duration_push(L, dur_operand(L, 1) + dur_operand(L, 2)); return 1; }
static int d_sub(lua_State *L) { duration_push(L, dur_operand(L, 1) - dur_operand(L, 2)); return 1; }
static int d_unm(lua_State *L) { duration_push(L, -check_dur(L, 1)->ns); return 1; }
static int d_eq(lua_State *L) { lua_pushboolean(L, check_dur(L, 1)->ns == check_dur(L, 2)->ns); return 1; }
static int d_lt(lua_State *L) { lua_pushboolean(L, dur_operand(L, 1) < dur_operand(L, 2)); return 1; }
static int d_le(lua_State *L) { lua_pushboolean(L, dur_operand(L, 1) <= dur_operand(L, 2)); return 1; }

/* ---- codec hooks: Time and Duration cross actors as values ---- */

static int enc_i64(lua_State *L, int idx, wbuf *out) {
  int64_t ns = *(int64_t *)lua_touserdata(L, idx);
  wbuf_append(out, &ns, sizeof ns);
  return 0;
}
static int dec_time(lua_State *L, const char *p, size_t len) {
  int64_t ns;
  if (len != sizeof ns) return -1;
  memcpy(&ns, p, sizeof ns);
  time_push(L, ns);
  return 0;
}
static int dec_dur(lua_State *L, const char *p, size_t len) {
  int64_t ns;
  if (len != sizeof ns) return -1;
  memcpy(&ns, p, sizeof ns);
  duration_push(L, ns);
  return 0;
}

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta) {
  if (!luaL_newmetatable(L, name)) { lua_pop(L, 1); return; }
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void time_open_types(lua_State *L) {
  static const luaL_Reg tm[] = {{"unix", t_unix}, {"unix_nano", t_unix_nano}, {"unix_milli", t_unix_milli},
                                {"sub", t_sub}, {"add", t_add}, {"before", t_before}, {"after", t_after},
                                {"equal", t_equal}, {"format_rfc3339", t_format_rfc3339},
                                {"format_rfc3339_nano", t_format_rfc3339_nano}, {NULL, NULL}};
  static const luaL_Reg tmeta[] = {{"__tostring", t_tostring}, {"__eq", t_eq}, {"__lt", t_lt}, {"__le", t_le},
                                   {"__sub", t_meta_sub}, {"__add", t_add}, {NULL, NULL}};
  static const luaL_Reg dm[] = {{"nanoseconds", d_ns}, {"microseconds", d_us}, {"milliseconds", d_ms},
                                {"seconds", d_s}, {"minutes", d_m}, {"hours", d_h}, {"string", d_string},
                                {NULL, NULL}};
  static const luaL_Reg dmeta[] = {{"__tostring", d_string}, {"__eq", d_eq}, {"__lt", d_lt}, {"__le", d_le},
                                   {"__add", d_add}, {"__sub", d_sub}, {"__unm", d_unm}, {NULL, NULL}};
  static const luaL_Reg timer_m[] = {{"channel", m_channel}, {"stop", m_stop}, {"reset", m_reset}, {NULL, NULL}};
  static const luaL_Reg timer_meta[] = {{"__gc", timer_gc}, {NULL, NULL}};
  new_class(L, TIME_MT, tm, tmeta);
  new_class(L, DURATION_MT, dm, dmeta);
  new_class(L, TIMER_MT, timer_m, timer_meta);
  new_class(L, TICKER_MT, timer_m, timer_meta);
}

int luaopen_wisp_time(lua_State *L) {
  static const luaL_Reg funcs[] = {{"sleep", l_sleep}, {"after", l_after}, {"timer", l_timer},
                                   {"ticker", l_ticker}, {"now", l_now}, {"unix", l_unix},
                                   {"parse_duration", l_parse_duration}, {NULL, NULL}};
  time_open_types(L);
  luaL_newlib(L, funcs);
  static const struct { const char *n; lua_Integer v; } k[] = {
      {"NANOSECOND", DUR_NANOSECOND}, {"MICROSECOND", DUR_MICROSECOND}, {"MILLISECOND", DUR_MILLISECOND},
      {"SECOND", DUR_SECOND}, {"MINUTE", DUR_MINUTE}, {"HOUR", DUR_HOUR}};
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    lua_pushinteger(L, k[i].v);
    lua_setfield(L, -2, k[i].n);
  }
  return 1;
}

void time_register(void) {
  actor_set_handler(MB_TIMER, on_timer);
  wcodec_register_type(2, TIME_MT, enc_i64, dec_time);
  wcodec_register_type(3, DURATION_MT, enc_i64, dec_dur);
}
