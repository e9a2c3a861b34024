/* actors/actor.c — actor lifecycle: the counting allocator, state creation from a chunk, the
 * run loop (drain the mailbox, resume ready tasks, detect deadlock), and the end of an actor.
 * Only the worker currently running an actor touches its Lua state and task lists. */
#include "actors/actor.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "actors/links.h"
#include "actors/names.h"
#include "actors/pidtab.h"
#include "actors/sandbox.h"
#include "actors/sched.h"
#include "actors/task.h"
#include "core/clock.h"
#include "core/codec.h"
#include "core/metrics.h"

#define PREEMPT_NS 2000000 /* a coroutine is yielded after ~2 ms without blocking */
#define HOOK_COUNT 1000    /* instructions between preemption checks */
#define DRAIN_BATCH 4096   /* mailbox entries handled per run before tasks get a turn */

static actor_handler handlers[MB_SIGNAL + 1];
static void (*cleanup_fn)(actor *a);

void actor_set_handler(uint32_t kind, actor_handler fn) {
  if (kind <= MB_SIGNAL) handlers[kind] = fn;
}
actor_handler actor_get_handler(uint32_t kind) { return kind <= MB_SIGNAL ? handlers[kind] : NULL; }
void actor_set_cleanup(void (*fn)(actor *a)) { cleanup_fn = fn; }

/* ---- memory ---- */

static void *actor_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  actor *a = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    a->mem_used -= old;
    return NULL;
  }
  if (nsize > old && a->mem_used + (nsize - old) > a->mem_limit) {
    a->mem_exceeded = true; /* sticky: the actor is ended as soon as control returns */
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  a->mem_used = a->mem_used - old + nsize;
  return p;
}

/* ---- preemption ---- */

static void count_hook(lua_State *L, lua_Debug *ar) {
  actor *a = actor_of(L);
  if (!a->current) return;
  if (a->mem_exceeded || clock_mono_ns() - a->slice_start > PREEMPT_NS) {
    if (lua_isyieldable(L)) {
      a->preempted = true;
      lua_yield(L, 0);
    } else if (a->mem_exceeded) {
      luaL_error(L, "memory limit exceeded");
    }
  }
}

/* ---- creation ---- */

static actor_resolver resolver_fn;
void actor_set_resolver(actor_resolver fn) { resolver_fn = fn; }
actor_resolver actor_get_resolver(void) { return resolver_fn; }
static actor_library_loader library_loader_fn;
void actor_set_library_loader(actor_library_loader fn) { library_loader_fn = fn; }
actor_library_loader actor_get_library_loader(void) { return library_loader_fn; }

static void (*security_release_fn)(void *ctx);
void actor_set_security_release(void (*fn)(void *ctx)) { security_release_fn = fn; }

static void actor_destroy(mailbox *mb) {
  actor *a = (actor *)mb;
  if (a->security && security_release_fn) security_release_fn(a->security);
  pthread_mutex_destroy(&a->links_mu);
  free(a->watchers);
  free(a->links);
  free(a->base_dir);
  free(a->exit_error_kind);
  free(a->entry_id);
  free(a->exit_error);
  wbuf_free(&a->exit_result);
  free(a);
}

void actor_retain(actor *a) { mbox_retain(&a->mb); }
void actor_release(actor *a) { mbox_release(&a->mb); }

typedef struct load_args {
  const actor_config *cfg;
} load_args;

/* The main function of an entry with a `method`: runs the chunk, then calls
 * chunk_result[method] (or the global of that name) with the actor's arguments. Both calls
 * may yield (lua_callk), as top-level code of an actor may block. Upvalue 1 = chunk,
 * upvalue 2 = method name. */
static int entry_main_k(lua_State *L, int status, lua_KContext ctx) {
  if (ctx == 1) { /* the chunk returned: find the method */
    const char *method = lua_tostring(L, lua_upvalueindex(2));
    int rt = lua_gettop(L);
    if (lua_istable(L, rt)) lua_getfield(L, rt, method);
    else lua_pushnil(L);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getglobal(L, method);
    }
    if (!lua_isfunction(L, -1))
      return luaL_error(L, "method '%s' not found: the entry's chunk must return a table with a "
                           "function '%s' (or define a global function of that name)", method, method);
    lua_replace(L, rt); /* function replaces the chunk's result, below it are the arguments */
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 2, entry_main_k);
  }
  return lua_gettop(L);
}

static int entry_main(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_callk(L, 0, 1, 1, entry_main_k);
  return entry_main_k(L, LUA_OK, 1);
}

static int load_chunk(lua_State *L) {
  actor *a = actor_of(L);
  const actor_config *cfg = lua_touserdata(L, 1);
  lua_settop(L, 0);
  sandbox_open(L, cfg->modules);
  if (cfg->imports) {
    lua_newtable(L);
    for (int i = 0; cfg->imports[i] && cfg->imports[i + 1]; i += 2) {
      lua_pushstring(L, cfg->imports[i + 1]);
      lua_setfield(L, -2, cfg->imports[i]);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "wisp.imports");
  }
  if (cfg->security) {
    lua_pushlightuserdata(L, cfg->security);
    lua_setfield(L, LUA_REGISTRYINDEX, "wisp.security");
  }
  int st = luaL_loadbufferx(L, cfg->chunk, cfg->chunk_len, cfg->chunk_name ? cfg->chunk_name : "=chunk",
                            cfg->chunk_is_binary ? "b" : "t");
  if (st != LUA_OK) return lua_error(L);
  if (cfg->method && *cfg->method) {
    lua_pushstring(L, cfg->method);
    lua_pushcclosure(L, entry_main, 2);
  }
  int nargs = 0;
  if (cfg->args && cfg->args_len) {
    
    nargs = wcodec_decode_n(L, cfg->args, cfg->args_len);
    if (nargs < 0) return luaL_error(L, "malformed arguments for the actor");
  }
  task_new(a, L, nargs);
  return 0;
}

actor *actor_spawn(const actor_config *cfg, char *err, size_t errlen) {
  actor *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  mbox_init(&a->mb, sched_notify, actor_destroy);
  pthread_mutex_init(&a->links_mu, NULL);
  a->security = cfg->security; /* the caller's reference passes to the actor */
  a->base_dir = cfg->base_dir ? strdup(cfg->base_dir) : NULL;
  a->exec_mode = cfg->exec_mode;
  a->parent = cfg->parent;
  a->host_count = cfg->host_count;
  a->host_name = cfg->host_name;
  a->mem_limit = cfg->memory_limit ? cfg->memory_limit : ACTOR_DEFAULT_MEMORY_LIMIT;
  a->entry_id = strdup(cfg->entry_id ? cfg->entry_id : "");
  a->on_exit = cfg->on_exit;
  a->on_exit_ud = cfg->on_exit_ud;
  a->L = lua_newstate(actor_alloc, a);
  if (!a->L) {
    snprintf(err, errlen, "cannot create a Lua state (memory limit too small?)");
    actor_destroy(&a->mb);
    return NULL;
  }
  *(actor **)lua_getextraspace(a->L) = a;
  lua_sethook(a->L, count_hook, LUA_MASKCOUNT, HOOK_COUNT);
  /* thread -> task map used by coroutine.resume's guard; weak keys */
  lua_newtable(a->L);
  lua_createtable(a->L, 0, 1);
  lua_pushliteral(a->L, "k");
  lua_setfield(a->L, -2, "__mode");
  lua_setmetatable(a->L, -2);
  lua_rawsetp(a->L, LUA_REGISTRYINDEX, (void *)&task_block_marker);

  lua_pushcfunction(a->L, load_chunk);
  lua_pushlightuserdata(a->L, (void *)cfg);
  if (lua_pcall(a->L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(a->L, -1);
    snprintf(err, errlen, "%s", a->mem_exceeded ? "memory limit exceeded while loading" : msg ? msg : "cannot load chunk");
    task_destroy_all(a);
    lua_close(a->L);
    a->L = NULL;
    actor_destroy(&a->mb);
    return NULL;
  }
  a->status = ACTOR_RUNNING;
  pidtab_add(a);
  lua_pushstring(a->L, a->entry_id);
  lua_setfield(a->L, LUA_REGISTRYINDEX, "wisp.entry");
  char pidbuf[32];
  actor_format_pid(a->pid, pidbuf, sizeof pidbuf);
  lua_pushstring(a->L, pidbuf);
  lua_setfield(a->L, LUA_REGISTRYINDEX, "wisp.pid");
  if (cfg->link_to) links_link(a, cfg->link_to);
  if (cfg->monitor_by) links_monitor(cfg->monitor_by, a->pid, cfg->monitor_chan);
  metric_add(metrics_series("wisp_actors_spawned_total", "Actors spawned, by entry", METRIC_COUNTER,
                            "entry", a->entry_id, NULL), 1);
  a->m_alive = metrics_series("wisp_actors_alive", "Actors running, by entry", METRIC_GAUGE, "entry", a->entry_id, NULL);
  metric_add(a->m_alive, 1);
  actor_retain(a); /* the caller's reference; the initial one is the actor's own */
  sched_notify(&a->mb);
  return a;
}

void actor_terminate(actor *a) {
  mbox_post(&a->mb, mbox_entry_new(MB_SIGNAL, 0, EXIT_TERMINATED, NULL, 0));
}

/* ---- ending ---- */

static const char *default_error_kind(int kind) {
  switch (kind) {
  case EXIT_MEMORY: case EXIT_DEADLOCK: return "Internal";
  case EXIT_TERMINATED: return "Canceled";
  default: return "";
  }
}

void actor_fail(actor *a, int kind, const char *msg) {
  if (a->status == ACTOR_DONE) return;
  a->status = ACTOR_DONE;
  a->exit_kind = kind;
  free(a->exit_error);
  a->exit_error = strdup(msg ? msg : "actor failed");
  if (!a->exit_error_kind) a->exit_error_kind = strdup(default_error_kind(kind));
}

/* The kind of an error object (anything with a kind() method), read through its Lua API so
 * that actors/ stays independent of stdlib/errors. */
static int read_error_kind(lua_State *L) {
  if (!lua_isuserdata(L, 1) && !lua_istable(L, 1)) return 0;
  if (luaL_getmetafield(L, 1, "__name") == LUA_TNIL) return 0;
  bool is_err = strcmp(lua_tostring(L, -1), "wisp.Error") == 0;
  lua_pop(L, 1);
  if (!is_err) return 0;
  lua_getfield(L, 1, "kind");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static void record_error_kind(actor *a, int idx_in_L) {
  lua_State *L = a->L;
  idx_in_L = lua_absindex(L, idx_in_L);
  lua_pushcfunction(L, read_error_kind);
  lua_pushvalue(L, idx_in_L);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_isstring(L, -1)) {
    free(a->exit_error_kind);
    a->exit_error_kind = strdup(lua_tostring(L, -1));
  }
  lua_pop(L, 1);
}

/* Builds "message\nstack traceback:..." for an error raised in task t. */
static int describe_error(lua_State *L) {
  lua_State *co = lua_touserdata(L, 1);
  lua_settop(L, 2); /* error value copy at 2 */
  const char *msg;
  if (lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER) {
    msg = lua_tostring(L, 2);
  } else {
    msg = luaL_tolstring(L, 2, NULL);
  }
  if (co) luaL_traceback(L, co, msg, 0);
  else lua_pushstring(L, msg);
  return 1;
}

static void fail_from_error(actor *a, wtask *t, int kind) {
  lua_State *L = a->L;
  if (a->mem_exceeded) {
    char buf[160];
    snprintf(buf, sizeof buf, "memory limit exceeded: the actor needs more than %zu bytes (limit %zu MiB)",
             a->mem_limit, a->mem_limit >> 20);
    actor_fail(a, EXIT_MEMORY, buf);
    return;
  }
  if (t) {
    lua_pushvalue(t->co, -1);
    lua_xmove(t->co, L, 1);
  } else {
    lua_pushvalue(L, -1);
  }
  record_error_kind(a, -1);
  lua_pushcfunction(L, describe_error);
  lua_pushlightuserdata(L, t ? t->co : NULL);
  lua_pushvalue(L, -3);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    actor_fail(a, kind, "error (its message could not be converted to a string)");
  } else {
    actor_fail(a, kind, lua_tostring(L, -1));
  }
  lua_pop(L, t ? 2 : 3); /* without a task, the error came on L's own stack */
}

static int record_results(lua_State *L) {
  actor *a = actor_of(L);
  lua_State *co = lua_touserdata(L, 1);
  int n = (int)lua_tointeger(L, 2);
  lua_settop(L, 0);
  luaL_checkstack(L, n + 4, "results");
  lua_xmove(co, L, n);
  /* `return nil, err` and `return false` are failures (SPEC.md, wisp exec) */
  if (n >= 1 && (lua_isnil(L, 1) && n >= 2 && !lua_isnil(L, 2))) {
    a->exit_returned_failure = true;
    record_error_kind(a, 2);
    lua_pushvalue(L, 2);
    const char *m = luaL_tolstring(L, -1, NULL);
    free(a->exit_error);
    a->exit_error = strdup(m);
  } else if (n >= 1 && lua_isboolean(L, 1) && !lua_toboolean(L, 1)) {
    a->exit_returned_failure = true;
    free(a->exit_error);
    a->exit_error = strdup(n >= 2 ? luaL_tolstring(L, 2, NULL) : "returned false");
  }
  lua_settop(L, n);

  char err[200];
  wbuf_reset(&a->exit_result);
  if (wcodec_encode_n(L, 1, n, &a->exit_result, err, sizeof err) != 0) wbuf_reset(&a->exit_result);
  return 0;
}

static void main_returned(actor *a, wtask *t, int nres) {
  lua_State *L = a->L;
  lua_pushcfunction(L, record_results);
  lua_pushlightuserdata(L, t->co);
  lua_pushinteger(L, nres);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
  a->status = ACTOR_DONE;
  a->exit_kind = EXIT_NORMAL;
}

/* ---- running ---- */

static void resume_task(actor *a, wtask *t) {
  int nargs = t->nres, nres = 0;
  t->nres = 0;
  t->state = TASK_RUNNING;
  a->current = t;
  a->preempted = false;
  a->slice_start = clock_mono_ns();
  int st = lua_resume(t->co, a->L, nargs, &nres);
  a->current = NULL;
  if (a->mem_exceeded) {
    fail_from_error(a, NULL, EXIT_MEMORY);
    return;
  }
  if (st == LUA_YIELD) {
    bool block = nres == 1 && lua_touserdata(t->co, -1) == (void *)&task_block_marker;
    lua_pop(t->co, nres);
    if (!block || t->state != TASK_BLOCKED) {
      /* preempted, or an explicit coroutine.yield(): run again after the others */
      if (t->state != TASK_READY) task_make_ready(a, t);
    }
    a->preempted = false;
    return;
  }
  if (st == LUA_OK) {
    t->state = TASK_DONE;
    if (t->is_main) main_returned(a, t, nres);
    else task_free(a, t);
    return;
  }
  fail_from_error(a, t, EXIT_ERROR);
}

static int drain(lua_State *L) {
  actor *a = lua_touserdata(L, 1);
  mbox_entry **cur = lua_touserdata(L, 2);
  for (int n = 0; n < DRAIN_BATCH; n++) {
    mbox_entry *e = mbox_take(&a->mb);
    if (!e) break;
    *cur = e;
    if (e->kind == MB_SIGNAL) {
      actor_fail(a, (int)e->arg, "terminated");
    } else if (e->kind <= MB_SIGNAL && handlers[e->kind]) {
      handlers[e->kind](L, a, e);
    }
    *cur = NULL;
    mbox_entry_free(e);
    if (a->status == ACTOR_DONE) break;
  }
  return 0;
}

static char *deadlock_message(actor *a) {
  lua_State *L = a->L;
  char head[160];
  snprintf(head, sizeof head,
           "deadlock: all %d coroutine(s) of the actor are blocked and nothing outside the actor "
           "can wake them (main coroutine blocked here)", a->ntasks);
  if (a->main_task) luaL_traceback(L, a->main_task->co, head, 0);
  else lua_pushstring(L, head);
  char *m = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return m;
}

int actor_run(actor *a, int64_t slice_ns) {
  if (a->status == ACTOR_DONE) return RUN_DONE;
  int64_t start = clock_mono_ns();
  mbox_entry *cur = NULL;
  lua_pushcfunction(a->L, drain);
  lua_pushlightuserdata(a->L, a);
  lua_pushlightuserdata(a->L, &cur);
  if (lua_pcall(a->L, 2, 0, 0) != LUA_OK) {
    if (cur) mbox_entry_free(cur);
    fail_from_error(a, NULL, EXIT_ERROR);
  }
  while (a->status != ACTOR_DONE && a->ready_head) {
    wtask *t = a->ready_head;
    a->ready_head = t->next;
    if (!a->ready_head) a->ready_tail = NULL;
    t->next = NULL;
    resume_task(a, t);
    if (clock_mono_ns() - start > slice_ns) break;
  }
  atomic_store_explicit(&a->mem_reported, a->mem_used, memory_order_relaxed);
  if (a->status == ACTOR_DONE) return RUN_DONE;
  if (a->ready_head) return RUN_YIELD;
  if (mbox_maybe_nonempty(&a->mb)) return RUN_YIELD;
  if (a->ext_pending == 0 && a->ext_waits == 0) {
    char *m = deadlock_message(a);
    actor_fail(a, EXIT_DEADLOCK, m);
    free(m);
    return RUN_DONE;
  }
  return RUN_IDLE;
}

static const char *exit_reason_name(actor *a) {
  switch (a->exit_kind) {
  case EXIT_ERROR: return "error";
  case EXIT_MEMORY: return "memory";
  case EXIT_DEADLOCK: return "deadlock";
  case EXIT_TERMINATED: return "terminated";
  default: return a->exit_returned_failure ? "returned_error" : NULL;
  }
}

void actor_finish(actor *a) {
  if (!a->L) return;
  if (a->m_alive) metric_add(a->m_alive, -1);
  const char *why = exit_reason_name(a);
  if (why)
    metric_add(metrics_series("wisp_actors_failed_total", "Actors that ended abnormally, by entry and reason",
                              METRIC_COUNTER, "entry", a->entry_id, "reason", why, NULL), 1);
  mbox_close(&a->mb);
  pidtab_remove(a);
  names_release_pid(a->pid);
  links_on_exit(a);
  if (cleanup_fn) cleanup_fn(a);
  task_destroy_all(a);
  lua_close(a->L);
  a->L = NULL;
  if (a->host_count) atomic_fetch_sub(a->host_count, 1);
  if (a->on_exit) a->on_exit(a, a->on_exit_ud);
  mbox_discard_all(&a->mb);
  actor_release(a); /* the actor's own reference */
}

/* ---- metrics ---- */

static int64_t sample_alive(void *ud) { return (int64_t)actor_count(); }
static int64_t sample_mailbox(void *ud) { return mbox_total_queued(); }
static int64_t sample_runq(void *ud) {
  sched_stats st;
  sched_get_stats(&st);
  return (int64_t)st.queued;
}
static int64_t sample_steals(void *ud) {
  sched_stats st;
  sched_get_stats(&st);
  return (int64_t)st.steals;
}

typedef struct host_mem {
  const char *names[64];
  int64_t bytes[64];
  int n;
} host_mem;

static void add_host_mem(actor *a, void *ud) {
  host_mem *hm = ud;
  const char *h = a->host_name ? a->host_name : "default";
  size_t b = atomic_load_explicit(&a->mem_reported, memory_order_relaxed);
  for (int i = 0; i < hm->n; i++)
    if (hm->names[i] == h || strcmp(hm->names[i], h) == 0) {
      hm->bytes[i] += (int64_t)b;
      return;
    }
  if (hm->n < 64) {
    hm->names[hm->n] = h;
    hm->bytes[hm->n++] = (int64_t)b;
  }
}

static void write_host_mem(wbuf *out, const char *name, void *ud) {
  host_mem hm = {.n = 0};
  pidtab_foreach(add_host_mem, &hm);
  for (int i = 0; i < hm.n; i++) metrics_put_series(out, name, "host", hm.names[i], hm.bytes[i]);
}

void actors_metrics_init(void) {
  metrics_sampled("wisp_actors", "Actors alive in the process", METRIC_GAUGE, sample_alive, NULL);
  metrics_sampled("wisp_mailbox_depth", "Mailbox entries posted and not yet handled, all actors", METRIC_GAUGE,
                  sample_mailbox, NULL);
  metrics_sampled("wisp_scheduler_run_queue_length", "Runnable actors waiting for a worker", METRIC_GAUGE,
                  sample_runq, NULL);
  metrics_sampled("wisp_scheduler_steals_total", "Run-queue steals between workers", METRIC_COUNTER,
                  sample_steals, NULL);
  metrics_custom("wisp_actor_memory_bytes", "Lua memory of the actors alive, by host", METRIC_GAUGE,
                 write_host_mem, NULL);
}
