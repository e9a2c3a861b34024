/* stdlib/websocket.c — the `websocket` module: websocket.connect, the Client userdata, the
 * constants, and the MB_NET handler that turns the net thread's events into channel traffic
 * (contract: net/ws_client.h; behaviour: SPEC.md "websocket", docs/websocket.md).
 *
 * A client owns three actor-local external channels (user values): the message channel that
 * channel()/receive() return, a private one its connect and close wait on, and a private one
 * on which senders wait while the write queue is over WS_SEND_HWM. Waiting on external
 * channels is what keeps a waiting actor from being judged deadlocked. The message channel
 * anchors the client, so a script that keeps only the channel keeps the connection; a client
 * no longer reachable at all is closed by its __gc (1001 through ws_net_abort).
 *
 * Decisions:
 *  - Read credits are returned in batches of max(1, capacity / 4) as the actor takes messages:
 *    the net thread never holds less than three quarters of the window when the actor keeps
 *    up, at one command per batch.
 *  - Senders queue in FIFO order: a send that finds others waiting waits behind them, and each
 *    woken sender wakes the next once its own frame is queued, while the queue has room.
 *  - send() and ping() made where the coroutine cannot yield (a metamethod, a __gc) queue
 *    without waiting; close() there starts the closing handshake and returns true at once.
 *  - A failed send, ping or close on a connection that is over is INTERNAL, not retryable.
 *  - permessage-deflate: outgoing messages are compressed here, on the worker, right before
 *    they are queued (so the compression context follows the order of the frames), with the
 *    client's own pmd_conn made from what WSE_OPEN reports; the net thread only inflates.
 *    Compression is the costly half (≈ 10 µs per small message against ≈ 2 µs to inflate) and
 *    the workers are many while the net thread is one. A compressor that runs out of memory
 *    sends the message uncompressed, which is always allowed.
 *  - wss: the TLS context (CA bundle, client certificate) is looked up or loaded here, on the
 *    worker (net/tls.h caches one per configuration), so the net thread never reads a file; a
 *    CA or certificate file that cannot be used fails the connect at stage "tls", not
 *    retryable. tls.insecure = true logs a warning for every such connection.
 *  - Redirects and reconnects are dials of the same client, run from here (the MB_NET
 *    handler), never by the net thread: each dial is a new connection id with a copy of the
 *    options kept at connect (tmpl), the policy (websocket.connect.url for a redirect target,
 *    websocket.proxy for the proxy) is checked with the actor's scope, and the message channel
 *    stays the same. A reconnect's back-off is waited on the net thread (start_delay_ns), so
 *    no timer or task is needed and close() simply aborts the waiting connection.
 *  - Notices (reconnect.notify) share the message channel but never cost read credits: each
 *    one adds a credit_debt that the next take pays instead of returning a credit.
 *  - on_open runs in a new task of the actor (task_new from the handler) after every open.
 *  - Statistics: the net side's counters live in a ws_stats block shared with every connection
 *    of the client; what only the worker sees (messages sent, bytes before compression) is
 *    counted here. */
#include "stdlib/websocket.h"
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "actors/actor.h"
#include "actors/task.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "net/deflate.h"
#include "net/tls.h"
#include "net/utf8.h"
#include "net/ws_client.h"
#include "net/ws_proxy.h"
#include "net/ws_redial.h"
#include "stdlib/channel.h"
#include "stdlib/errors.h"
#include "stdlib/security.h"

#define CLIENT_MT "wisp.websocket.Client"
#define OPTS_MT "wisp.websocket.Options"
#define CLIENTS_KEY "wisp.websocket.clients" /* registry: conn id -> client, weak values */

/* user values: the message channel, the private channel connect() and close() wait on, the one
 * waiting senders use, the last upgrade response ({status, headers}), the on_open function,
 * and the Error of the last failed dial (returned by connect(), by close_status() after
 * reconnecting gave up, and put in "reconnecting" notices) */
enum { UV_MSG = 1, UV_CTL, UV_DRAIN, UV_RESP, UV_ONOPEN, UV_ERR, UV_COUNT = UV_ERR };
enum { CL_CONNECTING, CL_OPEN, CL_CLOSING, CL_CLOSED, CL_RECONNECTING };

#define WS_MAX_REDIRECTS 10
#define WS_STABLE_NS ((int64_t)5000000000) /* open this long: the next drop starts a fresh back-off */

/* Options that only the binding uses (parse_options fills them next to ws_connect_opts). */
typedef struct ws_extra {
  char *proxy_spec;  /* the proxy option as given (with credentials); NULL: the environment */
  bool proxy_off;    /* proxy = false */
  int follow;        /* follow_redirects */
  bool reconnect, notify;
  ws_backoff bo;
  uint32_t max_attempts; /* 0: no limit */
  bool on_open;      /* the options hold an on_open function (l_connect keeps it) */
} ws_extra;

typedef struct ws_client {
  uint64_t conn;           /* 0 once the net side is done with it (final event or abort) */
  int state;
  actor *owner;
  struct ws_client *prev, *next; /* the owner's clients (a->ext) */
  bool linked;
  uint32_t batch, pending_credits;
  uint64_t outstanding;    /* bytes handed to the net thread and not reported flushed */
  int senders;             /* coroutines waiting to send, counted until they run again */
  bool token_out;          /* a wake-up is on its way to the first of them */
  bool closer;             /* close() waits for the end */
  int close_code;          /* 0 until the connection ended */
  char *close_reason, *why, *protocol, *url;
  size_t close_reason_len;
  pmd_conn *pmd;           /* permessage-deflate, outgoing direction; NULL when not agreed */
  uint32_t threshold;      /* compression_threshold */
  uint64_t msg_chan;        /* external id of the message channel */
  uint32_t capacity;        /* channel_capacity */
  /* statistics (stats()): the net side's counters, and what only the binding sees */
  ws_stats *stats;
  uint64_t messages_out, zout_plain, zout_wire;
  bool compressed;          /* the current connection agreed permessage-deflate */
  int64_t opened_at;        /* monotonic ns of the last open; 0 while not open */
  uint64_t reconnects;
  /* dials after the first: redirects and reconnects */
  ws_connect_opts *tmpl;    /* the options, for every later dial; NULL when neither is on */
  char *dial_url;           /* the URL being (or last) dialed: c->url or a redirect target */
  char *proxy_used;         /* the proxy of that dial (no credentials), NULL when direct */
  ws_extra x;               /* proxy choice, redirects, reconnect settings */
  int hops;                 /* redirects followed in the current dial */
  bool connecting;          /* a connect() call waits on UV_CTL for this dial */
  uint32_t attempt;         /* reconnect attempts since the drop */
  unsigned backoff_n;       /* back-off step (kept across short-lived connections) */
  uint32_t credit_debt;     /* notices delivered to the channel and not yet offset by a take */
  bool gave_up;             /* reconnecting failed for good (close_status() adds the Error) */
} ws_client;

/* a->ext: the actor's live clients, and the masking-key generator its sends share (one per
 * actor, not per client: an actor runs on one worker at a time, and it saves 260 bytes a
 * connection). */
typedef struct ws_actor_ext {
  ws_client *head;
  ws_masker masker;
} ws_actor_ext;

static char *dup_n(const char *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) {
    fputs("wisp: out of memory in the websocket module\n", stderr);
    abort();
  }
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static bool can_block(lua_State *L) {
  actor *a = actor_of(L);
  return a && a->current && lua_isyieldable(L);
}

/* ---- the actor's clients ---- */

/* The actor's ext, created on first use; NULL when no randomness is available. */
static ws_actor_ext *actor_ext(actor *a) {
  ws_actor_ext *x = a->ext;
  if (x) return x;
  x = calloc(1, sizeof *x);
  if (!x) {
    fputs("wisp: out of memory in the websocket module\n", stderr);
    abort();
  }
  if (ws_masker_init(&x->masker) < 0) {
    free(x);
    return NULL;
  }
  a->ext = x;
  return x;
}

static void link_client(actor *a, ws_client *c) {
  ws_actor_ext *x = a->ext;
  c->owner = a;
  c->prev = NULL;
  c->next = x->head;
  if (x->head) x->head->prev = c;
  x->head = c;
  c->linked = true;
}

static void unlink_client(ws_client *c) {
  if (!c->linked) return;
  ws_actor_ext *x = c->owner->ext;
  if (c->prev) c->prev->next = c->next;
  else x->head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->linked = false;
}

/* actor_set_cleanup: the actor ended; its open connections are closed with 1001. */
static void ws_cleanup(actor *a) {
  ws_actor_ext *x = a->ext;
  if (!x) return;
  for (ws_client *c = x->head, *next; c; c = next) {
    next = c->next;
    if (c->conn) ws_net_abort(c->conn);
    c->conn = 0;
    c->linked = false;
    c->prev = c->next = NULL;
  }
  ws_masker_wipe(&x->masker);
  free(x);
  a->ext = NULL;
}

static void push_clients(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, CLIENTS_KEY);
}

static void forget_conn(lua_State *L, ws_client *c) {
  if (!c->conn) return;
  push_clients(L);
  lua_pushnil(L);
  lua_rawseti(L, -2, (lua_Integer)c->conn);
  lua_pop(L, 1);
  c->conn = 0;
  unlink_client(c);
}

/* ---- errors ---- */

static int closed_error(lua_State *L, ws_client *c, const char *what) {
  if (c->state == CL_RECONNECTING)
    return werr_fail(L, WERR_UNAVAILABLE, true, "websocket: %s: the connection is down, "
                     "reconnecting (attempt %u; it ended with %d: %s)", what, (unsigned)c->attempt,
                     c->close_code ? c->close_code : 1006, c->why ? c->why : "no close frame");
  if (c->state == CL_CONNECTING)
    return werr_fail(L, WERR_INTERNAL, false, "websocket: %s: the connection is not open yet", what);
  if (c->state == CL_CLOSING)
    return werr_fail(L, WERR_INTERNAL, false, "websocket: %s: the connection is closing", what);
  return werr_fail(L, WERR_INTERNAL, false, "websocket: %s: the connection is closed (%d: %s)",
                   what, c->close_code ? c->close_code : 1006, c->why ? c->why : "no close frame");
}

static void set_field_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes the Error of a failed dial (WSE_FAIL): INTERNAL, or TIMEOUT for the dial deadline,
 * with details {stage, status, location, address, proxy, redirects}. */
static void push_dial_error(lua_State *L, ws_client *c, const ws_fail_event *f, const char *msg,
                            const char *loc, const char *addr) {
  werr_push(L, f->timeout ? WERR_TIMEOUT : WERR_INTERNAL, f->retryable, "websocket.connect %s: %s",
            c->dial_url ? c->dial_url : c->url, msg);
  int ei = lua_gettop(L);
  lua_createtable(L, 0, 6);
  set_field_str(L, "stage", ws_stage_name(f->stage));
  if (f->status) {
    lua_pushinteger(L, f->status);
    lua_setfield(L, -2, "status");
  }
  set_field_str(L, "location", loc);
  set_field_str(L, "address", addr);
  set_field_str(L, "proxy", c->proxy_used);
  if (c->hops) {
    lua_pushinteger(L, c->hops);
    lua_setfield(L, -2, "redirects");
  }
  werr_set_details(L, ei);
}

/* The error on top becomes the client's last error (popped). */
static void keep_error(lua_State *L, int ci) { lua_setiuservalue(L, ci, UV_ERR); }

/* ---- options ---- */

static const char *const option_names[] = {
    "headers", "protocols", "dial_timeout", "read_timeout", "write_timeout", "compression",
    "compression_threshold", "read_limit", "channel_capacity", "tls", "ping_interval",
    "ping_timeout", "proxy", "follow_redirects", "reconnect", "on_open", NULL};

static int bad(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(lua_State *L, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return werr_fail(L, WERR_INVALID, false, "websocket.connect: %s", msg);
}

/* A short description of the value at idx for error messages. */
static const char *shown(lua_State *L, int idx, char *buf, size_t n) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
    else snprintf(buf, n, "%.14g", lua_tonumber(L, idx));
    return buf;
  case LUA_TSTRING: snprintf(buf, n, "\"%.40s\"", lua_tostring(L, idx)); return buf;
  default: return luaL_typename(L, idx);
  }
}

/* Duration option: a number is milliseconds, a string is Go syntax. */
static int opt_duration(lua_State *L, int vi, const char *name, int64_t *out) {
  char b[64];
  if (lua_type(L, vi) == LUA_TNUMBER) {
    lua_Number ms = lua_tonumber(L, vi);
    if (!(ms >= 0) || ms > (lua_Number)(INT64_MAX / 1000000))
      return bad(L, "%s must be a duration of at least 0 (milliseconds, or a string like \"5s\"), "
                    "got %s", name, shown(L, vi, b, sizeof b));
    *out = lua_isinteger(L, vi) ? (int64_t)lua_tointeger(L, vi) * 1000000 : (int64_t)llround(ms * 1e6);
    return 0;
  }
  if (lua_type(L, vi) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, vi, &len);
    char err[160];
    if (!dur_parse(s, len, out, err, sizeof err)) return bad(L, "%s: %s", name, err);
    if (*out < 0) return bad(L, "%s must not be negative, got %s", name, shown(L, vi, b, sizeof b));
    return 0;
  }
  return bad(L, "%s must be a number of milliseconds or a duration string like \"5s\", got %s",
             name, luaL_typename(L, vi));
}

static int opt_int(lua_State *L, int vi, const char *name, lua_Integer lo, lua_Integer hi,
                   lua_Integer *out) {
  char b[64];
  int isint = 0;
  lua_Integer v = lua_type(L, vi) == LUA_TNUMBER ? lua_tointegerx(L, vi, &isint) : 0;
  if (!isint || v < lo || v > hi)
    return bad(L, "%s must be an integer from %lld to %lld, got %s", name, (long long)lo,
               (long long)hi, shown(L, vi, b, sizeof b));
  *out = v;
  return 0;
}

static int cmp_header(const void *a, const void *b) {
  return strcasecmp(((const ws_header *)a)->name, ((const ws_header *)b)->name);
}

static int opt_headers(lua_State *L, int vi, ws_connect_opts *o) {
  if (!lua_istable(L, vi)) return bad(L, "headers must be a table of strings, got %s", luaL_typename(L, vi));
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    n++;
    lua_pop(L, 1);
  }
  if (!n) return 0;
  o->headers = calloc(n, sizeof *o->headers);
  if (!o->headers) return luaL_error(L, "out of memory");
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      char b[64];
      return bad(L, "headers must map strings to strings (%s header %s)",
                 lua_type(L, -2) == LUA_TSTRING ? "bad value for" : "bad name", 
                 lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : shown(L, -2, b, sizeof b));
    }
    size_t nl, vl;
    const char *name = lua_tolstring(L, -2, &nl), *value = lua_tolstring(L, -1, &vl);
    char err[256];
    if (ws_check_header(name, nl, value, vl, err, sizeof err)) return bad(L, "headers: %s", err);
    ws_header *h = &o->headers[o->nheaders++];
    h->name = dup_n(name, nl);
    h->name_len = nl;
    h->value = dup_n(value, vl);
    h->value_len = vl;
    lua_pop(L, 1);
  }
  qsort(o->headers, o->nheaders, sizeof *o->headers, cmp_header); /* deterministic requests */
  return 0;
}

static int opt_protocols(lua_State *L, int vi, ws_connect_opts *o) {
  if (!lua_istable(L, vi)) return bad(L, "protocols must be an array of strings, got %s", luaL_typename(L, vi));
  size_t n = lua_rawlen(L, vi), count = 0;
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    count++;
    lua_pop(L, 1);
  }
  if (count != n) return bad(L, "protocols must be an array of strings (a list without holes or other keys)");
  if (!n) return 0;
  o->protocols = calloc(n, sizeof *o->protocols);
  if (!o->protocols) return luaL_error(L, "out of memory");
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, vi, (lua_Integer)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return bad(L, "protocols[%zu] must be a string, got %s", i, luaL_typename(L, -1));
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    o->protocols[o->nprotocols].ptr = dup_n(s, len);
    o->protocols[o->nprotocols++].len = len;
    lua_pop(L, 1);
  }
  char err[256];
  if (ws_check_protocols(o->protocols, o->nprotocols, err, sizeof err)) return bad(L, "protocols: %s", err);
  return 0;
}

static int opt_tls(lua_State *L, int vi, ws_connect_opts *o) {
  static const char *const keys[] = {"ca_file", "cert_file", "key_file", "server_name", "insecure", NULL};
  if (!lua_istable(L, vi)) return bad(L, "tls must be a table, got %s", luaL_typename(L, vi));
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    lua_pop(L, 1);
    int k = lua_type(L, -1) == LUA_TSTRING ? 0 : -1;
    if (k == 0) {
      while (keys[k] && strcmp(keys[k], lua_tostring(L, -1)) != 0) k++;
      if (!keys[k]) k = -1;
    }
    if (k < 0) {
      char b[64];
      return bad(L, "unknown tls option %s (known: ca_file, cert_file, key_file, server_name, "
                    "insecure)", shown(L, -1, b, sizeof b));
    }
  }
  char **dst[] = {&o->ca_file, &o->cert_file, &o->key_file, &o->server_name};
  for (int k = 0; k < 4; k++) {
    int t = lua_getfield(L, vi, keys[k]);
    if (t != LUA_TNIL) {
      size_t len;
      if (t != LUA_TSTRING) return bad(L, "tls.%s must be a string, got %s", keys[k], lua_typename(L, t));
      const char *s = lua_tolstring(L, -1, &len);
      if (!len || strlen(s) != len) return bad(L, "tls.%s must be a non-empty string without NUL bytes", keys[k]);
      *dst[k] = dup_n(s, len);
    }
    lua_pop(L, 1);
  }
  int t = lua_getfield(L, vi, "insecure");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) return bad(L, "tls.insecure must be a boolean, got %s", lua_typename(L, t));
  o->insecure = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if ((o->cert_file != NULL) != (o->key_file != NULL))
    return bad(L, "tls.cert_file and tls.key_file go together (a client certificate needs its key)");
  return 0;
}

static int opt_compression(lua_State *L, int vi, ws_connect_opts *o) {
  if (lua_type(L, vi) == LUA_TSTRING) {
    static const struct { const char *name; int mode; } names[] = {
        {"disabled", 0}, {"context_takeover", 1}, {"no_context", 2}, {"no_context_takeover", 2}};
    const char *s = lua_tostring(L, vi);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (!strcmp(s, names[i].name)) {
        o->compression = names[i].mode;
        return 0;
      }
  } else if (lua_type(L, vi) == LUA_TNUMBER) {
    int isint;
    lua_Integer v = lua_tointegerx(L, vi, &isint);
    if (isint && v >= 0 && v <= 2) {
      o->compression = (int)v;
      return 0;
    }
  }
  char b[64];
  return bad(L, "compression must be 0, 1, 2 (websocket.COMPRESSION) or \"disabled\", "
                "\"context_takeover\", \"no_context\", got %s", shown(L, vi, b, sizeof b));
}

/* proxy = "http://user:pw@host:port" (or "host:port"), or false. */
static int opt_proxy(lua_State *L, int vi, ws_extra *x) {
  if (lua_type(L, vi) == LUA_TBOOLEAN && !lua_toboolean(L, vi)) {
    x->proxy_off = true;
    return 0;
  }
  if (lua_type(L, vi) != LUA_TSTRING)
    return bad(L, "proxy must be an http:// proxy URL string or false, got %s", luaL_typename(L, vi));
  size_t len;
  const char *sp = lua_tolstring(L, vi, &len);
  url_parts u;
  char err[URL_ERR_MAX];
  if (!len) return bad(L, "proxy must not be empty (false turns proxies off)");
  if (ws_proxy_parse(&u, sp, len, err, sizeof err) < 0) return bad(L, "proxy: %s", err);
  url_free(&u);
  x->proxy_spec = dup_n(sp, len);
  return 0;
}

/* reconnect = true (the defaults) or {initial_delay, max_delay, factor, jitter, max_attempts,
 * notify}. */
static int opt_reconnect(lua_State *L, int vi, ws_extra *x) {
  x->bo = (ws_backoff){500000000, 30000000000, 2.0, 0.2}; /* 0.5 s, 30 s, x2, +-20 % */
  x->max_attempts = 0;
  if (lua_type(L, vi) == LUA_TBOOLEAN) {
    x->reconnect = lua_toboolean(L, vi);
    return 0;
  }
  if (!lua_istable(L, vi))
    return bad(L, "reconnect must be true or a table {initial_delay, max_delay, factor, jitter, "
                  "max_attempts, notify}, got %s", luaL_typename(L, vi));
  static const char *const keys[] = {"initial_delay", "max_delay", "factor", "jitter",
                                      "max_attempts", "notify", NULL};
  lua_pushnil(L);
  while (lua_next(L, vi)) {
    lua_pop(L, 1);
    bool known = false;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; keys[i] && !known; i++) known = !strcmp(keys[i], lua_tostring(L, -1));
    if (!known) {
      char b[64];
      return bad(L, "unknown reconnect option %s (known: initial_delay, max_delay, factor, "
                    "jitter, max_attempts, notify)", shown(L, -1, b, sizeof b));
    }
  }
  int top = lua_gettop(L), r = 0;
  char b[64];
  int64_t d;
  if (lua_getfield(L, vi, "initial_delay") != LUA_TNIL) {
    if ((r = opt_duration(L, top + 1, "reconnect.initial_delay", &d))) return r;
    x->bo.initial_ns = d;
  }
  lua_settop(L, top);
  if (lua_getfield(L, vi, "max_delay") != LUA_TNIL) {
    if ((r = opt_duration(L, top + 1, "reconnect.max_delay", &d))) return r;
    x->bo.max_ns = d;
  }
  lua_settop(L, top);
  if (lua_getfield(L, vi, "factor") != LUA_TNIL) {
    lua_Number f = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(f >= 1) || f > 1000)
      return bad(L, "reconnect.factor must be a number from 1 to 1000, got %s", shown(L, -1, b, sizeof b));
    x->bo.factor = f;
  }
  lua_settop(L, top);
  if (lua_getfield(L, vi, "jitter") != LUA_TNIL) {
    lua_Number j = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(j >= 0 && j <= 1))
      return bad(L, "reconnect.jitter must be a number from 0 to 1, got %s", shown(L, -1, b, sizeof b));
    x->bo.jitter = j;
  }
  lua_settop(L, top);
  lua_Integer v = 0;
  if (lua_getfield(L, vi, "max_attempts") != LUA_TNIL) {
    if ((r = opt_int(L, top + 1, "reconnect.max_attempts", 0, 1000000, &v))) return r;
    x->max_attempts = (uint32_t)v;
  }
  lua_settop(L, top);
  int t = lua_getfield(L, vi, "notify");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    return bad(L, "reconnect.notify must be a boolean, got %s", lua_typename(L, t));
  x->notify = lua_toboolean(L, -1);
  lua_settop(L, top);
  if (x->bo.initial_ns > x->bo.max_ns)
    return bad(L, "reconnect.initial_delay must not be longer than reconnect.max_delay");
  x->reconnect = true;
  return 0;
}

/* Validates the options table at idx (nil: defaults) into o and x. 0, or nil, err pushed
 * and 2. */
static int parse_options(lua_State *L, int idx, ws_connect_opts *o, ws_extra *x) {
  if (lua_isnoneornil(L, idx)) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    bool known = false;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; option_names[i] && !known; i++) known = !strcmp(option_names[i], lua_tostring(L, -1));
    if (!known) {
      char b[64];
      return bad(L, "unknown option %s (options: headers, protocols, dial_timeout, read_timeout, "
                    "write_timeout, compression, compression_threshold, read_limit, "
                    "channel_capacity, tls, ping_interval, ping_timeout, proxy, "
                    "follow_redirects, reconnect, on_open)", shown(L, -1, b, sizeof b));
    }
  }
  int top = lua_gettop(L), r = 0;
  for (int i = 0; option_names[i] && r == 0; i++) {
    const char *name = option_names[i];
    if (lua_getfield(L, idx, name) == LUA_TNIL) {
      lua_settop(L, top);
      continue;
    }
    int vi = lua_gettop(L);
    lua_Integer v = 0;
    int64_t d = 0;
    switch (i) {
    case 0: r = opt_headers(L, vi, o); break;
    case 1: r = opt_protocols(L, vi, o); break;
    case 2:
      if (!(r = opt_duration(L, vi, name, &d))) o->dial_timeout_ns = d ? d : WS_DEFAULT_DIAL_TIMEOUT_NS;
      break;
    case 3: if (!(r = opt_duration(L, vi, name, &d))) o->read_timeout_ns = d; break;
    case 4: if (!(r = opt_duration(L, vi, name, &d))) o->write_timeout_ns = d; break;
    case 5: r = opt_compression(L, vi, o); break;
    case 6:
      if (!(r = opt_int(L, vi, name, 0, WS_MAX_COMPRESSION_THRESHOLD, &v))) o->compression_threshold = (uint32_t)v;
      break;
    case 7:
      if (!(r = opt_int(L, vi, name, 0, (lua_Integer)WS_MAX_READ_LIMIT, &v)))
        o->read_limit = v ? (uint64_t)v : WS_DEFAULT_READ_LIMIT;
      break;
    case 8:
      if (!(r = opt_int(L, vi, name, 1, WS_MAX_CHANNEL_CAPACITY, &v))) {
        o->channel_capacity = (uint32_t)v;
        o->initial_credits = (uint32_t)v;
      }
      break;
    case 9: r = opt_tls(L, vi, o); break;
    case 10: if (!(r = opt_duration(L, vi, name, &d))) o->ping_interval_ns = d; break;
    case 11: if (!(r = opt_duration(L, vi, name, &d))) o->ping_timeout_ns = d; break;
    case 12: r = opt_proxy(L, vi, x); break;
    case 13:
      if (!(r = opt_int(L, vi, name, 0, WS_MAX_REDIRECTS, &v))) x->follow = (int)v;
      break;
    case 14: r = opt_reconnect(L, vi, x); break;
    case 15:
      if (lua_type(L, vi) != LUA_TFUNCTION)
        return bad(L, "on_open must be a function, got %s", luaL_typename(L, vi));
      x->on_open = true;
      break;
    }
    if (r) return r;
    lua_settop(L, top);
  }
  return 0;
}

/* The options while they are checked: the box's __gc frees them on any early exit. */
typedef struct conn_box {
  ws_connect_opts *o;
  ws_extra x;
} conn_box;

static int opts_gc(lua_State *L) {
  conn_box *box = lua_touserdata(L, 1);
  ws_connect_opts_free(box->o);
  box->o = NULL;
  free(box->x.proxy_spec);
  box->x.proxy_spec = NULL;
  return 0;
}

/* ---- connect ---- */

/* chan_set_take_hook: the actor took a message; credits go back in batches. A notice never
 * cost a credit: the take that finds one owed (credit_debt) gives nothing back. Takes are in
 * order, so this may offset a message taken before the notice instead of the notice itself;
 * the total is exact and the net thread never holds more than channel_capacity credits. */
static void on_take(lua_State *L, void *ud) {
  ws_client *c = ud;
  if (c->credit_debt) {
    c->credit_debt--;
    return;
  }
  if (!c->conn) return;
  if (++c->pending_credits >= c->batch) {
    ws_net_credit(c->conn, c->pending_credits);
    c->pending_credits = 0;
  }
}

/* wss: the shared TLS context for the options (loaded from the files on first use). 0, or
 * nil, err pushed and 2: INTERNAL, stage "tls", not retryable (a file that cannot be used will
 * not become usable by retrying). */
static int tls_setup(lua_State *L, ws_connect_opts *o) {
  tls_config cfg = {o->ca_file, o->cert_file, o->key_file, o->insecure};
  char err[512];
  o->tls = tls_ctx_get(&cfg, err, sizeof err);
#ifdef FP_ECC
  /* Loading a client key proves it against its certificate with an ECC signature, which
   * fills wolfCrypt's thread-local fixed-point cache (≈ 1.6 MB, freed only on request):
   * useless on a worker, which does no other ECC. */
  wc_ecc_fp_free();
#endif
  if (!o->tls) {
    werr_fail(L, WERR_INTERNAL, false, "websocket.connect %s: %s", o->url.normalized, err);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "tls");
    lua_setfield(L, -2, "stage");
    werr_set_details(L, lua_gettop(L) - 1);
    return 2;
  }
  if (o->insecure)
    wlog_pack(WLOG_WARN, "websocket: TLS certificate verification is disabled (tls.insecure = "
              "true): the server is not authenticated", "{s:s}", "url", o->url.normalized);
  return 0;
}

/* The proxy for o->url: the proxy option, else the environment (subject to NO_PROXY), none
 * with proxy = false. The proxy URL is checked against the websocket.proxy policy. 0, or nil,
 * err pushed and 2. */
static int proxy_setup(lua_State *L, ws_client *c, ws_connect_opts *o) {
  free(c->proxy_used);
  c->proxy_used = NULL;
  if (c->x.proxy_off) return 0;
  const char *spec = c->x.proxy_spec, *var = "proxy";
  if (!spec) spec = ws_proxy_from_env(ws_proxy_env_get(), &o->url, &var);
  if (!spec) return 0;
  char err[URL_ERR_MAX];
  if (ws_proxy_parse(&o->proxy, spec, strlen(spec), err, sizeof err) < 0)
    return werr_fail(L, WERR_INVALID, false, "websocket.connect %s: %s: %s", o->url.normalized,
                     var, err);
  int r = security_check(L, "websocket.proxy", o->proxy.normalized, NULL);
  if (r) return r;
  o->use_proxy = true;
  c->proxy_used = dup_n(o->proxy.normalized, strlen(o->proxy.normalized));
  return 0;
}

/* Messages waiting in the channel (notices not counted). */
static uint32_t queued_messages(lua_State *L, int ci, ws_client *c) {
  lua_getiuservalue(L, ci, UV_MSG);
  wchan *ch = chan_test(L, -1);
  int n = ch ? chan_count(ch) : 0;
  lua_pop(L, 1);
  n -= (int)c->credit_debt;
  return n > 0 ? (uint32_t)n : 0;
}

/* Starts a connection of client c (at ci) with o (owned: handed to the net thread or freed)
 * after delay_ns. The read credits it starts with leave room for the messages an earlier
 * connection left in the channel. 0, or nil, err pushed and 2 (nothing started). */
static int dial(lua_State *L, int ci, ws_client *c, ws_connect_opts *o, int64_t delay_ns) {
  free(c->dial_url);
  c->dial_url = dup_n(o->url.normalized, strlen(o->url.normalized));
  int r = proxy_setup(L, c, o);
  if (!r && o->url.tls && !o->tls) r = tls_setup(L, o);
  if (r) {
    ws_connect_opts_free(o);
    return r;
  }
  actor *a = actor_of(L);
  o->start_delay_ns = delay_ns;
  uint32_t q = queued_messages(L, ci, c);
  o->initial_credits = q < c->capacity ? c->capacity - q : 0;
  if (!o->stats) {
    ws_stats_retain(c->stats);
    o->stats = c->stats;
  }
  c->pending_credits = 0;
  c->outstanding = 0;
  c->token_out = false;
  c->conn = ws_net_connect(&a->mb, c->msg_chan, o);
  push_clients(L);
  lua_pushvalue(L, ci);
  lua_rawseti(L, -2, (lua_Integer)c->conn);
  lua_pop(L, 1);
  link_client(a, c);
  return 0;
}

static int k_connect(lua_State *L, int status, lua_KContext ctx) {
  int ci = (int)ctx;
  if (lua_toboolean(L, -2)) { /* opened (it may have ended since: the channel says so) */
    lua_pushvalue(L, ci);
    return 1;
  }
  lua_pushnil(L);
  lua_getiuservalue(L, ci, UV_ERR);
  return 2;
}

static void push_external_channel(lua_State *L, int client_idx, int uv, int cap) {
  chan_push_new(L, cap);
  chan_make_external(L, -1, false);
  lua_setiuservalue(L, client_idx, uv);
}

static int l_connect(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  int ot = lua_type(L, 2);
  if (ot != LUA_TNONE && ot != LUA_TNIL && ot != LUA_TTABLE) luaL_typeerror(L, 2, "table");
  lua_settop(L, 2);
  int r = security_check(L, "websocket.connect", "", NULL);
  if (r) return r;

  conn_box *box = lua_newuserdatauv(L, sizeof *box, 0); /* index 3 */
  memset(box, 0, sizeof *box);
  luaL_setmetatable(L, OPTS_MT);
  ws_connect_opts *o = box->o = ws_connect_opts_new();
  if (!o) return luaL_error(L, "out of memory");
  size_t ulen;
  const char *us = lua_tolstring(L, 1, &ulen);
  char err[URL_ERR_MAX];
  if (url_parse(&o->url, us, ulen, 0, err, sizeof err) < 0)
    return werr_fail(L, WERR_INVALID, false, "websocket.connect: %s", err);
  if ((r = security_check(L, "websocket.connect.url", o->url.normalized, NULL))) return r;
  if ((r = parse_options(L, 2, o, &box->x))) return r;
  lua_settop(L, 3);

  if (!can_block(L))
    return werr_fail(L, WERR_INTERNAL, false, "websocket.connect: no context to wait in (call it "
                     "from a coroutine the actor schedules, not from a C function or metamethod)");

  actor *a = actor_of(L);
  ws_client *c = lua_newuserdatauv(L, sizeof *c, UV_COUNT);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, CLIENT_MT);
  int ci = lua_gettop(L);
  c->url = dup_n(o->url.normalized, strlen(o->url.normalized));
  c->capacity = o->channel_capacity;
  c->batch = o->channel_capacity / 4 ? o->channel_capacity / 4 : 1;
  c->threshold = o->compression_threshold;
  c->stats = ws_stats_new();
  c->x = box->x; /* the client owns proxy_spec now */
  box->x.proxy_spec = NULL;
  if (!actor_ext(a))
    return werr_fail(L, WERR_INTERNAL, true, "websocket.connect: no randomness for masking keys");
  push_external_channel(L, ci, UV_MSG, (int)o->channel_capacity);
  push_external_channel(L, ci, UV_CTL, 0); /* UV_DRAIN: made when a sender first waits */
  lua_getiuservalue(L, ci, UV_MSG);
  wchan *mc = chan_check(L, -1);
  c->msg_chan = chan_make_external(L, -1, false);
  chan_set_anchor(L, -1, ci);
  chan_set_take_hook(mc, on_take, c);
  lua_pop(L, 1);
  if (c->x.on_open) {
    lua_getfield(L, 2, "on_open");
    lua_setiuservalue(L, ci, UV_ONOPEN);
  }
  if (c->x.reconnect || c->x.follow > 0) { /* later dials start from a copy of these options */
    if (!(c->tmpl = ws_connect_opts_clone(o))) return luaL_error(L, "out of memory");
  }

  box->o = NULL; /* dial owns the options now */
  if ((r = dial(L, ci, c, o, 0))) return r;
  c->connecting = true;
  lua_getiuservalue(L, ci, UV_CTL);
  lua_getfield(L, -1, "receive");
  lua_insert(L, -2);
  lua_callk(L, 1, 2, ci, k_connect);
  return k_connect(L, LUA_OK, ci);
}

/* ---- events from the net thread ---- */

static void deliver_message(lua_State *L, mbox_entry *e) {
  chan_push_by_id(L, e->target);
  if (lua_isnil(L, -1) || e->len < 1) { /* the client is gone */
    lua_pop(L, 1);
    return;
  }
  int ci = lua_gettop(L);
  lua_createtable(L, 0, 2);
  if (e->data[0] == WS_OP_TEXT) lua_pushliteral(L, "text");
  else lua_pushliteral(L, "binary");
  lua_setfield(L, -2, "type");
  lua_pushlstring(L, e->data + 1, e->len - 1);
  lua_setfield(L, -2, "data");
  chan_deliver(L, ci);
  lua_settop(L, ci - 1);
}

static void deliver_token(lua_State *L, int ci, int uv, bool v) {
  lua_getiuservalue(L, ci, uv);
  lua_pushboolean(L, v);
  chan_deliver(L, -2);
  lua_pop(L, 1);
}

/* The notice on top (popped) goes to the message channel; it costs no read credit. */
static void deliver_notice(lua_State *L, int ci, ws_client *c) {
  lua_getiuservalue(L, ci, UV_MSG);
  lua_insert(L, -2);
  c->credit_debt++; /* before: a waiting receiver takes it at once (on_take) */
  chan_deliver(L, -2);
  lua_pop(L, 1);
}

/* Wakes the first waiting sender when the queue has room. */
static void wake_sender(lua_State *L, int ci, ws_client *c) {
  if (c->senders > 0 && !c->token_out && c->outstanding <= WS_SEND_HWM) {
    c->token_out = true;
    deliver_token(L, ci, UV_DRAIN, true);
  }
}

static void close_channel(lua_State *L, int ci, int uv) {
  if (lua_getiuservalue(L, ci, uv) == LUA_TUSERDATA) chan_close(L, -1);
  lua_pop(L, 1);
}

/* WSE_OPEN's headers (name NUL value NUL ...) as the response table {status, headers}: names
 * lower-cased, repeated headers joined with ", " (RFC 9110 §5.3). */
static void keep_response(lua_State *L, int ci, int status, const char *h, size_t hl) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  const char *p = h, *end = h + hl;
  while (p < end) {
    size_t nl = strnlen(p, (size_t)(end - p));
    const char *v = p + nl + 1;
    if (v > end) break;
    size_t vl = strnlen(v, (size_t)(end - v));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < nl; i++)
      luaL_addchar(&b, (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]));
    luaL_pushresult(&b);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, v, vl);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, v, vl);
    }
    lua_rawset(L, -3);
    p = v + vl + 1;
  }
  lua_setfield(L, -2, "headers");
  lua_setiuservalue(L, ci, UV_RESP);
}

/* on_open(client) in a new task of the actor, after every (re)connect. */
static void run_on_open(lua_State *L, actor *a, int ci) {
  if (lua_getiuservalue(L, ci, UV_ONOPEN) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_pushvalue(L, ci);
  task_new(a, L, 1);
}

static void set_field_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* Reconnecting is over: the channel closes; close_status() gives 1006, the last failure's
 * message, and its Error. */
static void give_up(lua_State *L, int ci, ws_client *c) {
  int top = lua_gettop(L);
  c->state = CL_CLOSED;
  c->gave_up = true;
  forget_conn(L, c);
  lua_getiuservalue(L, ci, UV_ERR);
  const char *m = werr_is(L, -1) ? werr_message(L, -1) : "reconnecting failed";
  free(c->close_reason);
  free(c->why);
  c->close_code = WS_CLOSE_ABNORMAL;
  c->close_reason = dup_n(m, strlen(m));
  c->close_reason_len = strlen(m);
  c->why = dup_n(m, strlen(m));
  wlog_pack(WLOG_WARN, "websocket: reconnecting gave up", "{s:s,s:i,s:s}", "url", c->url,
            "attempts", (int)c->attempt, "error", m);
  lua_settop(L, top);
  close_channel(L, ci, UV_MSG);
}

/* The next reconnect attempt, after its back-off; gives up past max_attempts or when the
 * dial cannot start (a policy denies the proxy, a TLS file became unusable). */
static void next_attempt(lua_State *L, int ci, ws_client *c) {
  int top = lua_gettop(L);
  c->attempt++;
  if (c->x.max_attempts && c->attempt > c->x.max_attempts) {
    c->attempt--;
    give_up(L, ci, c);
    return;
  }
  uint64_t rnd = 0;
  if (ws_getrandom(&rnd, sizeof rnd) < 0) rnd = (uint64_t)clock_mono_ns() * 0x9E3779B97F4A7C15ull;
  double u = (double)(rnd >> 11) / 9007199254740992.0; /* [0, 1) */
  int64_t delay = ws_backoff_delay(&c->x.bo, ++c->backoff_n, u);
  if (c->x.notify) {
    lua_createtable(L, 0, 4);
    set_field_str(L, "type", "reconnecting");
    set_field_int(L, "attempt", c->attempt);
    set_field_int(L, "delay", delay / 1000000);
    if (c->attempt > 1) {
      lua_getiuservalue(L, ci, UV_ERR);
      lua_setfield(L, -2, "error");
    }
    deliver_notice(L, ci, c);
  }
  ws_connect_opts *o = ws_connect_opts_clone(c->tmpl);
  char err[URL_ERR_MAX];
  if (!o || url_parse(&o->url, c->url, strlen(c->url), 0, err, sizeof err) < 0) {
    ws_connect_opts_free(o);
    werr_push(L, WERR_INTERNAL, false, "websocket: reconnect %s: %s", c->url,
              o ? err : "out of memory");
    keep_error(L, ci);
    give_up(L, ci, c);
    return;
  }
  c->hops = 0;
  if (dial(L, ci, c, o, delay)) {
    keep_error(L, ci);
    lua_settop(L, top);
    give_up(L, ci, c);
    return;
  }
  lua_settop(L, top);
}

static bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static bool header_is(const ws_header *h, const char *name) {
  return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Follows the redirect of f to loc: 0 when the next dial started; else its Error is pushed
 * (policy denial, unusable Location, a wss:// to ws:// downgrade) and 1. */
static int follow_redirect(lua_State *L, int ci, ws_client *c, const ws_fail_event *f,
                           const char *loc, const char *addr) {
  url_parts cur;
  char err[URL_ERR_MAX], msg[URL_ERR_MAX + 96];
  ws_fail_event ff = *f;
  ff.retryable = false;
  ff.stage = WS_STAGE_HANDSHAKE;
  if (url_parse(&cur, c->dial_url, strlen(c->dial_url), 0, err, sizeof err) < 0) {
    push_dial_error(L, c, &ff, err, loc, addr);
    return 1;
  }
  char *target = ws_redirect_url(&cur, loc, strlen(loc));
  ws_connect_opts *o = ws_connect_opts_clone(c->tmpl);
  int rc = o ? url_parse(&o->url, target, strlen(target), 0, err, sizeof err) : -1;
  free(target);
  if (rc < 0) {
    snprintf(msg, sizeof msg, "redirect (%d) to an unusable Location: %s", f->status,
             o ? err : "out of memory");
    goto fail;
  }
  if (cur.tls && !o->url.tls) {
    snprintf(msg, sizeof msg, "redirect (%d) from wss:// to %s refused: it would drop TLS",
             f->status, o->url.normalized);
    goto fail;
  }
  if (security_check(L, "websocket.connect.url", o->url.normalized, NULL)) {
    lua_remove(L, -2); /* the nil */
    ws_connect_opts_free(o);
    url_free(&cur);
    return 1;
  }
  /* Credentials meant for one origin do not follow a redirect to another (as browsers and curl
   * do): Authorization and Cookie are dropped. */
  if (strcmp(cur.scheme, o->url.scheme) || strcmp(cur.host, o->url.host) || cur.port != o->url.port) {
    size_t k = 0;
    for (size_t i = 0; i < o->nheaders; i++) {
      if (header_is(&o->headers[i], "authorization") || header_is(&o->headers[i], "cookie")) {
        free((char *)o->headers[i].name);
        free((char *)o->headers[i].value);
      } else {
        o->headers[k++] = o->headers[i];
      }
    }
    o->nheaders = k;
  }
  url_free(&cur);
  c->hops++;
  if (dial(L, ci, c, o, 0)) {
    lua_remove(L, -2);
    return 1;
  }
  return 0;
fail:
  ws_connect_opts_free(o);
  url_free(&cur);
  push_dial_error(L, c, &ff, msg, loc, addr);
  return 1;
}

static void on_net(lua_State *L, actor *a, mbox_entry *e) {
  if (e->flags == WSE_MESSAGE) {
    deliver_message(L, e);
    return;
  }
  int top = lua_gettop(L);
  push_clients(L);
  lua_rawgeti(L, -1, (lua_Integer)e->arg);
  ws_client *c = luaL_testudata(L, -1, CLIENT_MT);
  if (!c || c->conn != e->arg) {
    lua_settop(L, top);
    return;
  }
  int ci = lua_gettop(L);
  switch (e->flags) {
  case WSE_OPEN: {
    ws_open_event oe;
    if (e->len < sizeof oe) break;
    memcpy(&oe, e->data, sizeof oe);
    if (sizeof oe + (size_t)oe.protocol_len + oe.headers_len > e->len) break;
    free(c->protocol);
    c->protocol = oe.protocol_len ? dup_n(e->data + sizeof oe, oe.protocol_len) : NULL;
    pmd_conn_free(c->pmd);
    c->pmd = oe.pmd.enabled ? pmd_conn_new(&oe.pmd, c->threshold, 0) : NULL; /* NULL: send plain */
    c->compressed = oe.pmd.enabled;
    keep_response(L, ci, oe.status, e->data + sizeof oe + oe.protocol_len, oe.headers_len);
    c->state = CL_OPEN;
    c->hops = 0;
    c->opened_at = clock_mono_ns();
    lua_pushnil(L);
    keep_error(L, ci);
    if (!c->connecting) {
      c->reconnects++;
      wlog_pack(WLOG_INFO, "websocket: reconnected", "{s:s,s:i}", "url", c->url, "attempt",
                (int)c->attempt);
      if (c->x.notify) {
        lua_createtable(L, 0, 2);
        set_field_str(L, "type", "reconnected");
        set_field_int(L, "attempt", c->attempt);
        deliver_notice(L, ci, c);
      }
    }
    c->attempt = 0;
    run_on_open(L, a, ci);
    if (c->connecting) {
      c->connecting = false;
      deliver_token(L, ci, UV_CTL, true);
    } else {
      wake_sender(L, ci, c); /* senders that came in between */
    }
    break;
  }
  case WSE_FAIL: {
    ws_fail_event f;
    if (e->len < sizeof f) break;
    memcpy(&f, e->data, sizeof f);
    if (sizeof f + (size_t)f.msg_len + f.location_len + f.address_len > e->len) break;
    const char *p = e->data + sizeof f;
    char *msg = dup_n(p, f.msg_len);
    char *loc = f.location_len ? dup_n(p + f.msg_len, f.location_len) : NULL;
    char *addr = f.address_len ? dup_n(p + f.msg_len + f.location_len, f.address_len) : NULL;
    forget_conn(L, c);
    bool dialing = false;
    if (loc && is_redirect(f.status) && c->x.follow > 0) {
      if (c->hops < c->x.follow) {
        dialing = follow_redirect(L, ci, c, &f, loc, addr) == 0;
      } else {
        char m[256];
        snprintf(m, sizeof m, "too many redirects: %d followed (follow_redirects = %d), then "
                 "%d again", c->hops, c->x.follow, f.status);
        ws_fail_event ff = f;
        ff.retryable = false;
        push_dial_error(L, c, &ff, m, loc, addr);
      }
    } else {
      push_dial_error(L, c, &f, msg, loc, addr);
    }
    free(msg);
    free(loc);
    free(addr);
    if (dialing) break;
    bool retry = werr_retryable(L, -1);
    keep_error(L, ci);
    if (c->connecting) {
      c->connecting = false;
      c->state = CL_CLOSED;
      deliver_token(L, ci, UV_CTL, false);
    } else if (retry) {
      next_attempt(L, ci, c);
    } else {
      give_up(L, ci, c);
    }
    break;
  }
  case WSE_DRAINED: {
    uint64_t n = 0;
    if (e->len >= sizeof n) memcpy(&n, e->data, sizeof n);
    c->outstanding = n > c->outstanding ? 0 : c->outstanding - n;
    wake_sender(L, ci, c);
    break;
  }
  case WSE_CLOSED: {
    ws_closed_event ce;
    if (e->len < sizeof ce) break;
    memcpy(&ce, e->data, sizeof ce);
    if (sizeof ce + (size_t)ce.reason_len + ce.why_len > e->len) break;
    free(c->close_reason);
    free(c->why);
    c->close_code = ce.code;
    c->close_reason = dup_n(e->data + sizeof ce, ce.reason_len);
    c->close_reason_len = ce.reason_len;
    c->why = dup_n(e->data + sizeof ce + ce.reason_len, ce.why_len);
    pmd_conn_free(c->pmd);
    c->pmd = NULL;
    forget_conn(L, c);
    close_channel(L, ci, UV_DRAIN); /* waiting senders get nil, err */
    lua_pushnil(L);
    lua_setiuservalue(L, ci, UV_DRAIN);
    int64_t up = c->opened_at ? clock_mono_ns() - c->opened_at : 0;
    c->opened_at = 0;
    /* Reconnect after any end but close() and the server's own normal closure (1000: it is
     * done with us); not at runtime shutdown. */
    bool again = c->x.reconnect && c->tmpl && c->state == CL_OPEN &&
                 !(ce.flags & WS_CLOSED_SHUTDOWN) &&
                 !((ce.flags & WS_CLOSED_BY_PEER) && ce.code == WS_CLOSE_NORMAL);
    if (again) {
      c->state = CL_RECONNECTING;
      if (up >= WS_STABLE_NS) c->backoff_n = 0; /* it had been up a while: a fresh back-off */
      c->attempt = 0;
      wlog_pack(WLOG_INFO, "websocket: connection lost, reconnecting", "{s:s,s:i,s:s}", "url",
                c->url, "code", (int)ce.code, "error", c->why);
      if (c->x.notify) {
        lua_createtable(L, 0, 4);
        set_field_str(L, "type", "disconnected");
        set_field_int(L, "code", ce.code);
        lua_pushlstring(L, c->close_reason, c->close_reason_len);
        lua_setfield(L, -2, "reason");
        set_field_str(L, "message", c->why);
        deliver_notice(L, ci, c);
      }
      next_attempt(L, ci, c);
      break;
    }
    c->state = CL_CLOSED;
    close_channel(L, ci, UV_MSG); /* buffered messages are still received first */
    if (c->closer) {
      c->closer = false;
      deliver_token(L, ci, UV_CTL, true);
    }
    break;
  }
  }
  lua_settop(L, top);
}

/* ---- client methods ---- */

static ws_client *check_client(lua_State *L) { return luaL_checkudata(L, 1, CLIENT_MT); }

static int queue_frame(lua_State *L, ws_client *c, int opcode, const char *data, size_t len) {
  ws_actor_ext *x = c->linked ? c->owner->ext : NULL;
  size_t n = 0;
  wbuf z = WBUF_INIT;
  bool zipped = false;
  if (c->conn && x) {
    zipped = c->pmd && opcode != WS_OP_PING && pmd_compress(c->pmd, data, len, &z) == PMD_COMPRESSED;
    if (zipped)
      n = ws_net_send(c->conn, opcode, true, z.data, z.len, &x->masker);
    else
      n = ws_net_send(c->conn, opcode, false, data, len, &x->masker);
  }
  if (!n) {
    wbuf_free(&z);
    return closed_error(L, c, opcode == WS_OP_PING ? "ping" : "send");
  }
  c->outstanding += n;
  if (opcode != WS_OP_PING) {
    c->messages_out++;
    if (c->pmd) { /* the ratio counts what went out on a compressing connection */
      c->zout_plain += len;
      c->zout_wire += zipped ? z.len : len;
    }
  }
  wbuf_free(&z);
  lua_pushboolean(L, 1);
  return 1;
}

static int k_send(lua_State *L, int status, lua_KContext ctx) {
  ws_client *c = lua_touserdata(L, 1);
  bool woken = lua_toboolean(L, -1);
  c->senders--;
  if (woken) c->token_out = false;
  if (!woken || c->state != CL_OPEN) {
    /* woken by the end of an earlier connection: a reconnected one may have senders waiting */
    if (c->state == CL_OPEN) {
      lua_pushvalue(L, 1);
      wake_sender(L, lua_gettop(L), c);
      lua_pop(L, 1);
    }
    return closed_error(L, c, "send");
  }
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  int r = queue_frame(L, c, (int)ctx, data, len);
  lua_pushvalue(L, 1);
  wake_sender(L, lua_gettop(L), c); /* the next in line, if there is still room */
  lua_pop(L, 1);
  return r;
}

static int m_send(lua_State *L) {
  ws_client *c = check_client(L);
  luaL_checktype(L, 2, LUA_TSTRING);
  int opcode = WS_OP_TEXT;
  if (!lua_isnoneornil(L, 3)) {
    int isint = 0;
    lua_Integer t = lua_type(L, 3) == LUA_TNUMBER ? lua_tointegerx(L, 3, &isint) : 0;
    if (!isint || (t != WS_OP_TEXT && t != WS_OP_BINARY)) {
      char b[64];
      return werr_fail(L, WERR_INVALID, false, "websocket: send: type must be websocket.TEXT (1) "
                       "or websocket.BINARY (2), got %s", shown(L, 3, b, sizeof b));
    }
    opcode = (int)t;
  }
  lua_settop(L, 2);
  if (c->state != CL_OPEN) return closed_error(L, c, "send");
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  if (opcode == WS_OP_TEXT && !utf8_valid(data, len))
    return werr_fail(L, WERR_INVALID, false, "websocket: send: text is not valid UTF-8 (send "
                     "binary data with websocket.BINARY)");
  if ((c->senders > 0 || c->outstanding > WS_SEND_HWM) && can_block(L)) {
    c->senders++;
    if (lua_getiuservalue(L, 1, UV_DRAIN) != LUA_TUSERDATA) {
      lua_pop(L, 1);
      push_external_channel(L, 1, UV_DRAIN, 0);
      lua_getiuservalue(L, 1, UV_DRAIN);
    }
    lua_getfield(L, -1, "receive");
    lua_insert(L, -2);
    lua_callk(L, 1, 2, opcode, k_send);
    return k_send(L, LUA_OK, opcode);
  }
  return queue_frame(L, c, opcode, data, len);
}

static int m_ping(lua_State *L) {
  ws_client *c = check_client(L);
  size_t len = 0;
  const char *data = "";
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TSTRING);
    data = lua_tolstring(L, 2, &len);
  }
  if (len > WS_MAX_CONTROL_PAYLOAD)
    return werr_fail(L, WERR_INVALID, false, "websocket: ping: payload is %zu bytes, at most 125 "
                     "are allowed", len);
  if (c->state != CL_OPEN) return closed_error(L, c, "ping");
  return queue_frame(L, c, WS_OP_PING, data, len);
}

static int k_close(lua_State *L, int status, lua_KContext ctx) {
  lua_pushboolean(L, 1);
  return 1;
}

static int m_close(lua_State *L) {
  ws_client *c = check_client(L);
  lua_Integer code = luaL_optinteger(L, 2, WS_CLOSE_NORMAL);
  size_t rlen = 0;
  const char *reason = "";
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TSTRING);
    reason = lua_tolstring(L, 3, &rlen);
  }
  const char *why = code < 0 || code > 0xFFFF ? "close code must be 1000-1003, 1007-1014 or 3000-4999"
                                              : ws_close_check((int)code, reason, rlen);
  if (!why && code == 0) why = "close code must be 1000-1003, 1007-1014 or 3000-4999";
  if (why) return werr_fail(L, WERR_INVALID, false, "websocket: close: %s (code %lld)", why, (long long)code);
  lua_settop(L, 1);
  if (c->state == CL_RECONNECTING) { /* stops reconnecting; close_status() keeps the drop */
    if (c->conn) ws_net_abort(c->conn);
    forget_conn(L, c);
    c->state = CL_CLOSED;
    close_channel(L, 1, UV_MSG);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (c->state != CL_OPEN) { /* closing or closed already: a second close is a no-op */
    lua_pushboolean(L, 1);
    return 1;
  }
  c->state = CL_CLOSING;
  ws_net_close(c->conn, (int)code, reason, rlen);
  if (!can_block(L)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  c->closer = true;
  lua_getiuservalue(L, 1, UV_CTL);
  lua_getfield(L, -1, "receive");
  lua_insert(L, -2);
  lua_callk(L, 1, 2, 0, k_close);
  return k_close(L, LUA_OK, 0);
}

static int m_channel(lua_State *L) {
  check_client(L);
  lua_getiuservalue(L, 1, UV_MSG);
  return 1;
}

static int m_protocol(lua_State *L) {
  ws_client *c = check_client(L);
  if (c->protocol) lua_pushstring(L, c->protocol);
  else lua_pushnil(L);
  return 1;
}

static int m_close_status(lua_State *L) {
  ws_client *c = check_client(L);
  if (c->state != CL_CLOSED || !c->close_code) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, c->close_code);
  lua_pushlstring(L, c->close_reason ? c->close_reason : "", c->close_reason_len);
  if (!c->gave_up) return 2;
  lua_getiuservalue(L, 1, UV_ERR); /* reconnecting gave up: why the last attempt failed */
  return 3;
}

static void stat_field(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static uint64_t ld(_Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }

static int m_stats(lua_State *L) {
  ws_client *c = check_client(L);
  ws_stats *st = c->stats;
  lua_createtable(L, 0, 12);
  stat_field(L, "bytes_in", ld(&st->bytes_in));
  stat_field(L, "bytes_out", ld(&st->bytes_out));
  stat_field(L, "messages_in", ld(&st->messages_in));
  stat_field(L, "messages_out", c->messages_out);
  stat_field(L, "frames_in", ld(&st->frames_in));
  stat_field(L, "frames_out", ld(&st->frames_out));
  stat_field(L, "pings_sent", ld(&st->pings_sent));
  stat_field(L, "reconnects", c->reconnects);
  int64_t rtt = atomic_load_explicit(&st->rtt_ns, memory_order_relaxed);
  if (rtt >= 0) {
    lua_pushnumber(L, (lua_Number)rtt / 1e6);
    lua_setfield(L, -2, "last_rtt_ms");
  }
  if (c->state == CL_OPEN && c->opened_at) {
    lua_pushnumber(L, (lua_Number)(clock_mono_ns() - c->opened_at) / 1e9);
    lua_setfield(L, -2, "connected_for");
  }
  if (c->compressed) {
    uint64_t plain = ld(&st->z_plain) + c->zout_plain, wire = ld(&st->z_wire) + c->zout_wire;
    lua_pushnumber(L, wire ? (lua_Number)plain / (lua_Number)wire : 1.0);
    lua_setfield(L, -2, "compression_ratio");
  }
  return 1;
}

static int m_response(lua_State *L) {
  check_client(L);
  if (lua_getiuservalue(L, 1, UV_RESP) != LUA_TTABLE) {
    lua_pushnil(L);
    return 1;
  }
  int ri = lua_gettop(L);
  lua_createtable(L, 0, 2); /* a copy: the caller may change it */
  lua_getfield(L, ri, "status");
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  lua_getfield(L, ri, "headers");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_pop(L, 1);
  lua_setfield(L, -2, "headers");
  return 1;
}

static int m_gc(lua_State *L) {
  ws_client *c = luaL_testudata(L, 1, CLIENT_MT);
  if (!c) return 0;
  if (c->conn) ws_net_abort(c->conn); /* unreachable: close it (1001) */
  c->conn = 0;
  unlink_client(c);
  pmd_conn_free(c->pmd);
  c->pmd = NULL;
  free(c->close_reason);
  free(c->why);
  free(c->protocol);
  free(c->url);
  free(c->dial_url);
  free(c->proxy_used);
  free(c->x.proxy_spec);
  ws_connect_opts_free(c->tmpl);
  ws_stats_release(c->stats);
  c->tmpl = NULL;
  c->stats = NULL;
  c->close_reason = c->why = c->protocol = c->url = c->dial_url = c->proxy_used = NULL;
  c->x.proxy_spec = NULL;
  return 0;
}

static int m_tostring(lua_State *L) {
  ws_client *c = check_client(L);
  static const char *const names[] = {"connecting", "open", "closing", "closed", "reconnecting"};
  lua_pushfstring(L, "websocket.Client(%s, %s)", c->url ? c->url : "?", names[c->state]);
  return 1;
}

/* ---- module ---- */

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

int luaopen_wisp_websocket(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"send", m_send}, {"ping", m_ping}, {"channel", m_channel}, {"receive", m_channel},
      {"close", m_close}, {"protocol", m_protocol}, {"close_status", m_close_status},
      {"stats", m_stats}, {"response", m_response}, {NULL, NULL}};
  if (luaL_newmetatable(L, CLIENT_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "websocket.Client");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, OPTS_MT)) {
    lua_pushcfunction(L, opts_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);

  static const luaL_Reg funcs[] = {{"connect", l_connect}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  set_int(L, "TEXT", WS_OP_TEXT);
  set_int(L, "BINARY", WS_OP_BINARY);
  set_str(L, "TYPE_TEXT", "text");
  set_str(L, "TYPE_BINARY", "binary");
  set_str(L, "TYPE_PING", "ping");
  set_str(L, "TYPE_PONG", "pong");
  set_str(L, "TYPE_CLOSE", "close");
  lua_createtable(L, 0, 3);
  set_int(L, "DISABLED", 0);
  set_int(L, "CONTEXT_TAKEOVER", 1);
  set_int(L, "NO_CONTEXT", 2);
  lua_setfield(L, -2, "COMPRESSION");
  static const struct { const char *name; int code; } codes[] = {
      {"NORMAL", 1000}, {"GOING_AWAY", 1001}, {"PROTOCOL_ERROR", 1002},
      {"UNSUPPORTED_DATA", 1003}, {"RESERVED", 1004}, {"NO_STATUS", 1005},
      {"ABNORMAL_CLOSURE", 1006}, {"INVALID_PAYLOAD", 1007}, {"POLICY_VIOLATION", 1008},
      {"MESSAGE_TOO_BIG", 1009}, {"MANDATORY_EXTENSION", 1010}, {"INTERNAL_ERROR", 1011},
      {"SERVICE_RESTART", 1012}, {"TRY_AGAIN_LATER", 1013}, {"BAD_GATEWAY", 1014},
      {"TLS_HANDSHAKE", 1015}};
  lua_createtable(L, 0, (int)(sizeof codes / sizeof codes[0]));
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) set_int(L, codes[i].name, codes[i].code);
  lua_setfield(L, -2, "CLOSE_CODES");
  return 1;
}

void websocket_register(void) {
  actor_set_handler(MB_NET, on_net);
  actor_set_cleanup(ws_cleanup);
}
