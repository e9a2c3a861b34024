/* actors/app.c — see app.h. One app per process: the globals below are written by app_attach
 * before any worker runs and only read afterwards, except the supervisor's state, which only
 * the main thread touches, and the exit queue, which is locked. */
#include "actors/app.h"
#include <lauxlib.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "actors/actor.h"
#include "actors/chunks.h"
#include "actors/links.h"
#include "actors/pidtab.h"
#include "core/clock.h"
#include "core/codec.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "security/context.h"
#include "security/scope.h"

/* ---- per-entry spawn data, computed once ---- */

typedef struct entry_rt {
  const mf_entry *e;
  const char **modules; /* NULL-terminated union over the imported libraries */
  const char **imports; /* alias, id pairs, NULL-terminated */
  _Atomic int host_count; /* process.host entries: live actors */
} entry_rt;

static const mf_app *g_app;
static entry_rt *g_rt;
static sec_registry *g_reg;

static entry_rt *rt_of(const mf_entry *e) {
  for (size_t i = 0; i < g_app->nentries; i++)
    if (g_rt[i].e == e) return &g_rt[i];
  return NULL;
}

static void add_unique(const char ***arr, size_t *n, const char *s) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*arr)[i], s) == 0) return;
  *arr = realloc(*arr, sizeof **arr * (*n + 2));
  if (!*arr) abort();
  (*arr)[(*n)++] = s;
  (*arr)[*n] = NULL;
}

/* modules and imports of e and, transitively, of the libraries it imports (the manifest loader
 * has refused import cycles; depth is bounded anyway) */
static void collect(const mf_entry *e, const char ***mods, size_t *nm, const char ***imps, size_t *ni, int depth) {
  if (depth > 64) return;
  for (size_t i = 0; i < e->nmodules; i++) add_unique(mods, nm, e->modules[i]);
  for (size_t i = 0; i < e->nimports; i++) {
    bool known = false;
    for (size_t j = 0; j < *ni; j += 2)
      if (strcmp((*imps)[j], e->imports[i].alias) == 0) known = true;
    if (!known) {
      *imps = realloc(*imps, sizeof **imps * (*ni + 3));
      if (!*imps) abort();
      (*imps)[(*ni)++] = e->imports[i].alias;
      (*imps)[(*ni)++] = e->imports[i].target->id;
      (*imps)[*ni] = NULL;
    }
    collect(e->imports[i].target, mods, nm, imps, ni, depth + 1);
  }
}

static int resolve(actor *parent, const char *id, const char *host, actor_config *cfg, char *err, size_t errlen) {
  const mf_entry *e = mf_find(g_app, id);
  if (!e) {
    snprintf(err, errlen, "no entry \"%s\" in the app", id);
    return 1;
  }
  if (e->kind != MF_PROCESS_LUA && e->kind != MF_FUNCTION_LUA) {
    snprintf(err, errlen, "entry \"%s\" is a %s, not a process.lua or function.lua", id, mf_kind_name(e->kind));
    return 2;
  }
  entry_rt *rt = rt_of(e);
  char chunkname[1024];
  snprintf(chunkname, sizeof chunkname, "@%s", e->source_path);
  size_t len;
  const char *code = chunks_source(e->id, chunkname, e->source, e->source_len, &len, err, errlen);
  if (!code) return 2;
  cfg->chunk = code;
  cfg->chunk_len = len;
  cfg->chunk_is_binary = true;
  cfg->entry_id = e->id;
  cfg->method = e->method;
  cfg->modules = rt->modules;
  cfg->imports = rt->imports;
  if (host) {
    const mf_entry *h = mf_find(g_app, host);
    if (!h || h->kind != MF_PROCESS_HOST) {
      snprintf(err, errlen, "no process.host \"%s\" in the app", host);
      return 1;
    }
    entry_rt *hr = rt_of(h);
    if (h->host.memory_limit) cfg->memory_limit = (size_t)h->host.memory_limit;
    int n = atomic_fetch_add(&hr->host_count, 1);
    if (h->host.max_processes && n >= h->host.max_processes) {
      atomic_fetch_sub(&hr->host_count, 1);
      snprintf(err, errlen, "host \"%s\" already runs max_processes = %lld processes", host,
               (long long)h->host.max_processes);
      return 2;
    }
    cfg->host_count = &hr->host_count;
    cfg->host_name = h->id;
  }
  return 0;
}

static int load_library(lua_State *L, const char *id) {
  const mf_entry *e = mf_find(g_app, id);
  if (!e || e->kind != MF_LIBRARY_LUA) return luaL_error(L, "import \"%s\" is not a library.lua entry", id);
  char chunkname[1024], err[512];
  snprintf(chunkname, sizeof chunkname, "@%s", e->source_path);
  size_t len;
  const char *code = chunks_source(e->id, chunkname, e->source, e->source_len, &len, err, sizeof err);
  if (!code) return luaL_error(L, "%s", err);
  if (luaL_loadbufferx(L, code, len, chunkname, "b") != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  return 1;
}

int app_attach(const mf_app *app, char *err, size_t errlen) {
  g_app = app;
  g_rt = calloc(app->nentries ? app->nentries : 1, sizeof *g_rt);
  if (!g_rt) abort();
  for (size_t i = 0; i < app->nentries; i++) {
    const mf_entry *e = app->entries[i];
    g_rt[i].e = e;
    atomic_init(&g_rt[i].host_count, 0);
    if (e->kind == MF_PROCESS_LUA || e->kind == MF_FUNCTION_LUA || e->kind == MF_LIBRARY_LUA) {
      size_t nm = 0, ni = 0;
      g_rt[i].modules = calloc(1, sizeof(char *));
      g_rt[i].imports = calloc(1, sizeof(char *));
      collect(e, &g_rt[i].modules, &nm, &g_rt[i].imports, &ni, 0);
    }
  }
  g_reg = sec_registry_new();
  for (size_t i = 0; i < app->nentries; i++) {
    const mf_entry *e = app->entries[i];
    if (e->kind != MF_SECURITY_POLICY) continue;
    char perr[256];
    sec_policy *p = sec_policy_parse_named(e->policy, e->id, perr, sizeof perr);
    if (!p || sec_registry_add(g_reg, p, e->groups, e->ngroups, perr, sizeof perr) != 0) {
      snprintf(err, errlen, "%s:%d: entry %s: %s", e->file, e->line, e->id, perr);
      return -1;
    }
  }
  actor_set_resolver(resolve);
  actor_set_library_loader(load_library);
  return 0;
}

void app_push_json(lua_State *L, const json_t *v) {
  luaL_checkstack(L, 4, "json");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(v));
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      app_push_json(L, x);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    lua_createtable(L, (int)json_array_size(v), 0);
    for (size_t i = 0; i < json_array_size(v); i++) {
      app_push_json(L, json_array_get(v, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  default: lua_pushnil(L); break;
  }
}

/* ---- the supervisor ---- */

enum svc_state { SVC_IDLE, SVC_RUNNING, SVC_BACKOFF, SVC_DONE, SVC_GAVE_UP };

typedef struct svc {
  const mf_entry *e;
  uint64_t pid;
  int state;
  int attempts; /* consecutive failures since the last stable run */
  int starts;
  int64_t started_at, next_at;
  sec_context *sec;
} svc;

typedef struct exit_note {
  size_t idx;
  bool failed;
  char *msg;
} exit_note;

#define EXEC_IDX ((size_t)-1)

static svc *svcs;
static size_t nsvcs;
static size_t *started; /* indices in the order they were first started */
static size_t nstarted;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static exit_note *notes;
static size_t nnotes, capnotes;
static int signals_seen;
static bool stopping; /* main thread only: services that end now are not restarted */

static void on_actor_exit(actor *a, void *ud) {
  exit_note n = {(size_t)(uintptr_t)ud - 1, a->exit_kind != EXIT_NORMAL || a->exit_returned_failure,
                 a->exit_error ? strdup(a->exit_error) : NULL};
  pthread_mutex_lock(&mu);
  if (nnotes == capnotes) {
    capnotes = capnotes ? capnotes * 2 : 16;
    notes = realloc(notes, sizeof *notes * capnotes);
    if (!notes) abort();
  }
  notes[nnotes++] = n;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

static int encode_input(const json_t *input, int argc, char **argv, wbuf *out) {
  lua_State *L = luaL_newstate();
  if (!L) return -1;
  int n = 0;
  if (input)
    for (size_t i = 0; i < json_array_size(input); i++, n++) app_push_json(L, json_array_get(input, i));
  for (int i = 0; i < argc; i++, n++) lua_pushstring(L, argv[i]);
  char err[256];
  int r = wcodec_encode_n(L, 1, n, out, err, sizeof err);
  lua_close(L);
  return r;
}

static uint64_t spawn_entry(const char *id, const char *host, const json_t *input, int argc, char **argv,
                            sec_context *sec, size_t note_idx, char *err, size_t errlen) {
  actor_config cfg = {0};
  int rc = resolve(NULL, id, host, &cfg, err, errlen);
  if (rc) return 0;
  wbuf args = WBUF_INIT;
  encode_input(input, argc, argv, &args);
  cfg.args = args.data;
  cfg.args_len = args.len;
  cfg.security = sec ? sec_context_retain(sec) : NULL;
  cfg.on_exit = on_actor_exit;
  cfg.on_exit_ud = (void *)(uintptr_t)(note_idx + 1);
  actor *a = actor_spawn(&cfg, err, errlen);
  wbuf_free(&args);
  if (!a) {
    if (cfg.host_count) atomic_fetch_sub(cfg.host_count, 1);
    if (cfg.security) sec_context_release(cfg.security);
    return 0;
  }
  uint64_t pid = a->pid;
  actor_release(a);
  return pid;
}

static void start_service(size_t i) {
  svc *s = &svcs[i];
  char err[1024], pidbuf[32];
  s->starts++;
  uint64_t pid = spawn_entry(s->e->process->id, s->e->svc_host ? s->e->svc_host->id : NULL, s->e->input, 0, NULL,
                             s->sec, i, err, sizeof err);
  bool first = true;
  for (size_t k = 0; k < nstarted; k++)
    if (started[k] == i) first = false;
  if (first) started[nstarted++] = i;
  if (!pid) {
    wlog_pack(WLOG_ERROR, "service failed to start", "{s:s,s:s,s:i}", "service", s->e->id, "error", err,
              "attempt", s->attempts + 1);
    /* treated like a failure: back off and retry */
    s->state = SVC_RUNNING;
    s->started_at = clock_mono_ns();
    exit_note n = {i, true, strdup(err)};
    pthread_mutex_lock(&mu);
    if (nnotes == capnotes) {
      capnotes = capnotes ? capnotes * 2 : 16;
      notes = realloc(notes, sizeof *notes * capnotes);
    }
    notes[nnotes++] = n;
    pthread_mutex_unlock(&mu);
    return;
  }
  s->pid = pid;
  s->state = SVC_RUNNING;
  s->started_at = clock_mono_ns();
  actor_format_pid(pid, pidbuf, sizeof pidbuf);
  wlog_pack(WLOG_INFO, "service started", "{s:s,s:s,s:i}", "service", s->e->id, "pid", pidbuf, "start", s->starts);
}

static double rand01(void) {
  static unsigned seed;
  if (!seed) seed = (unsigned)clock_mono_ns() | 1;
  return (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
}

static void service_exited(size_t i, bool failed, const char *msg) {
  svc *s = &svcs[i];
  if (s->state != SVC_RUNNING) return;
  s->pid = 0;
  if (stopping) {
    s->state = SVC_DONE;
    wlog_pack(WLOG_INFO, "service stopped", "{s:s}", "service", s->e->id);
    return;
  }
  if (!failed) {
    s->state = SVC_DONE;
    wlog_pack(WLOG_INFO, "service done", "{s:s}", "service", s->e->id);
    return;
  }
  const mf_restart *r = &s->e->lifecycle.restart;
  int64_t ran = clock_mono_ns() - s->started_at;
  int64_t stable = s->e->lifecycle.stable_threshold_ns ? s->e->lifecycle.stable_threshold_ns : 5000000000LL;
  if (ran >= stable) s->attempts = 0; /* it had been running stably: a fresh series of attempts */
  s->attempts++;
  if (r->max_attempts > 0 && s->attempts >= r->max_attempts) {
    s->state = SVC_GAVE_UP;
    wlog_pack(WLOG_ERROR, "service failed, giving up", "{s:s,s:s,s:i}", "service", s->e->id, "error",
              msg ? msg : "", "attempts", s->attempts);
    return;
  }
  double delay = (double)r->initial_delay_ns * pow(r->backoff_factor, s->attempts - 1);
  if (delay > (double)r->max_delay_ns) delay = (double)r->max_delay_ns;
  delay *= 1.0 + r->jitter * (2.0 * rand01() - 1.0);
  if (delay < 0) delay = 0;
  s->state = SVC_BACKOFF;
  s->next_at = clock_mono_ns() + (int64_t)delay;
  metric_add(metrics_series("wisp_service_restarts_total", "Service restarts after a failure", METRIC_COUNTER,
                            "service", s->e->id, NULL), 1);
  wlog_pack(WLOG_WARN, "service failed, restarting", "{s:s,s:s,s:i,s:f}", "service", s->e->id, "error",
            msg ? msg : "", "attempt", s->attempts, "delay_ms", delay / 1e6);
}

static void *signal_thread(void *arg) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) { /* re-read the log level; nothing else changes */
      char why[256];
      int level = wlog_reload_level(why, sizeof why);
      if (level < 0) wlog_pack(WLOG_WARN, "SIGHUP: log level unchanged", "{s:s}", "reason", why);
      else wlog_pack(WLOG_WARN, "SIGHUP: log level set", "{s:s}", "level", wlog_level_name(level));
      continue;
    }
    /* one signal sent twice in the same instant (e.g. `timeout` signals the child and its
     * process group) is one request, not the "second signal" that exits at once */
    static int64_t first_at;
    int64_t now = clock_mono_ns();
    if (first_at && now - first_at < 200000000LL) continue;
    pthread_mutex_lock(&mu);
    int seen = ++signals_seen;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    if (seen == 1) first_at = now;
    if (seen >= 2) {
      static const char msg[] = "wisp: second signal, exiting at once\n";
      ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)w;
      _exit(1);
    }
    wlog_pack(WLOG_INFO, "shutdown requested", "{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }
  return NULL;
}

void app_block_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static size_t running_services(void) {
  size_t n = 0;
  for (size_t i = 0; i < nsvcs; i++) n += svcs[i].state == SVC_RUNNING;
  return n;
}

/* Waits for exit notes until deadline (monotonic ns; 0 = no deadline) or a signal. Handles
 * them; returns true when the -x process ended (its failure in *exec_failed). */
static bool pump(int64_t deadline, bool *exec_done, bool *exec_failed, char **exec_msg) {
  pthread_mutex_lock(&mu);
  int seen = signals_seen;
  while (nnotes == 0 && signals_seen == seen) {
    if (!deadline) {
      pthread_cond_wait(&cv, &mu);
      continue;
    }
    int64_t now = clock_mono_ns();
    if (now >= deadline) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wait = deadline - now;
    ts.tv_sec += wait / 1000000000;
    ts.tv_nsec += wait % 1000000000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    pthread_cond_timedwait(&cv, &mu, &ts);
  }
  exit_note *batch = notes;
  size_t n = nnotes;
  notes = NULL;
  nnotes = capnotes = 0;
  pthread_mutex_unlock(&mu);
  for (size_t k = 0; k < n; k++) {
    if (batch[k].idx == EXEC_IDX) {
      *exec_done = true;
      *exec_failed = batch[k].failed;
      free(*exec_msg);
      *exec_msg = batch[k].msg;
      continue;
    }
    service_exited(batch[k].idx, batch[k].failed, batch[k].msg);
    free(batch[k].msg);
  }
  free(batch);
  return *exec_done;
}

static bool shutdown_requested(void) {
  pthread_mutex_lock(&mu);
  bool r = signals_seen > 0;
  pthread_mutex_unlock(&mu);
  return r;
}

static void terminate_one(actor *a, void *ud) { actor_terminate(a); }

/* Ready: every auto-start service (and what it requires) runs or has finished normally. */
static void update_readiness(const mf_app *app) {
  bool ready = true;
  for (size_t k = 0; k < app->nstart && ready; k++)
    for (size_t i = 0; i < nsvcs; i++)
      if (svcs[i].e == app->start_order[k] && svcs[i].state != SVC_RUNNING && svcs[i].state != SVC_DONE) ready = false;
  health_set_ready(ready);
}

static void stop_services(const mf_app *app, bool *exec_done, bool *exec_failed, char **exec_msg) {
  stopping = true;
  health_set_ready(false);
  int64_t deadline = clock_mono_ns() + app->shutdown_timeout_ns;
  for (size_t k = nstarted; k-- > 0;) {
    svc *s = &svcs[started[k]];
    if (s->state == SVC_BACKOFF) s->state = SVC_DONE;
    if (s->state != SVC_RUNNING) continue;
    wlog_pack(WLOG_INFO, "stopping service", "{s:s}", "service", s->e->id);
    links_cancel(0, s->pid, "shutdown");
    /* reverse order: wait for this one up to its stop_timeout, within the overall deadline,
     * so that one stubborn service cannot eat the time of the others */
    int64_t own = clock_mono_ns() + (s->e->lifecycle.stop_timeout_ns ? s->e->lifecycle.stop_timeout_ns : deadline);
    int64_t until = own < deadline ? own : deadline;
    while (s->state == SVC_RUNNING && clock_mono_ns() < until) pump(until, exec_done, exec_failed, exec_msg);
    if (s->state == SVC_RUNNING) {
      wlog_pack(WLOG_WARN, "service did not stop in time, terminating", "{s:s}", "service", s->e->id);
      actor *a = actor_lookup(s->pid);
      if (a) {
        actor_terminate(a);
        actor_release(a);
      }
    }
  }
  int64_t hard = clock_mono_ns() + 2000000000LL;
  while (running_services() && clock_mono_ns() < hard) pump(hard, exec_done, exec_failed, exec_msg);
  /* every other actor (children of services) ends too */
  for (int round = 0; round < 2000 && actor_count() > 0; round++) {
    if (round % 100 == 0) pidtab_foreach(terminate_one, NULL);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

static sec_context *service_context(const mf_app *app, const mf_entry *e) {
  const mf_security *sec = &e->lifecycle.security;
  unsigned flags = app->strict ? SEC_CTX_STRICT : 0;
  sec_scope *scope = NULL;
  sec_actor ident = {0};
  if (sec->present) {
    const char **pids = calloc(sec->npolicies + 1, sizeof *pids);
    for (size_t i = 0; i < sec->npolicies; i++) pids[i] = sec->policies[i]->id;
    char err[256];
    scope = sec_registry_scope(g_reg, sec->groups, sec->ngroups, pids, sec->npolicies, err, sizeof err);
    free(pids);
    if (!scope) wlog_pack(WLOG_ERROR, "cannot build the service's security scope", "{s:s,s:s}", "service", e->id, "error", err);
    ident.id = (char *)sec->actor_id;
    ident.meta = (json_t *)sec->actor_meta;
  }
  sec_context *c = sec_context_new(sec->present && ident.id ? &ident : NULL, scope, flags);
  if (scope) sec_scope_release(scope);
  return c;
}

int app_run(const mf_app *app, const app_run_opts *opts) {
  nsvcs = app->nservices;
  svcs = calloc(nsvcs ? nsvcs : 1, sizeof *svcs);
  started = calloc(nsvcs ? nsvcs : 1, sizeof *started);
  for (size_t i = 0; i < nsvcs; i++) {
    svcs[i].e = app->services[i];
    svcs[i].sec = service_context(app, app->services[i]);
  }
  pthread_t sig;
  pthread_create(&sig, NULL, signal_thread, NULL);
  pthread_detach(sig);

  for (size_t k = 0; k < app->nstart; k++)
    for (size_t i = 0; i < nsvcs; i++)
      if (svcs[i].e == app->start_order[k] && svcs[i].state == SVC_IDLE) start_service(i);

  bool exec_done = false, exec_failed = false;
  char *exec_msg = NULL;
  int code = 0;
  if (opts->exec_id) {
    char err[1024];
    uint64_t pid = spawn_entry(opts->exec_id, NULL, NULL, opts->argc, opts->argv, NULL, EXEC_IDX, err, sizeof err);
    if (!pid) {
      fprintf(stderr, "wisp: -x %s: %s\n", opts->exec_id, err);
      exec_done = true;
      exec_failed = true;
      exec_msg = strdup(""); /* reported above */
    }
  }
  while (!shutdown_requested() && !(opts->exec_id && exec_done)) {
    update_readiness(app);
    int64_t next = 0;
    for (size_t i = 0; i < nsvcs; i++)
      if (svcs[i].state == SVC_BACKOFF && (!next || svcs[i].next_at < next)) next = svcs[i].next_at;
    pump(next, &exec_done, &exec_failed, &exec_msg);
    int64_t now = clock_mono_ns();
    for (size_t i = 0; i < nsvcs; i++)
      if (svcs[i].state == SVC_BACKOFF && svcs[i].next_at <= now && !shutdown_requested()) start_service(i);
  }
  if (opts->exec_id) {
    if (exec_failed) {
      if (!exec_msg || exec_msg[0]) fprintf(stderr, "wisp: %s failed: %s\n", opts->exec_id, exec_msg ? exec_msg : "error");
      code = 1;
    }
  }
  stop_services(app, &exec_done, &exec_failed, &exec_msg);
  free(exec_msg);
  wlog_pack(WLOG_INFO, "stopped", "{s:i}", "exit_code", code);
  for (size_t i = 0; i < nsvcs; i++) sec_context_release(svcs[i].sec);
  free(svcs);
  free(started);
  return code;
}

/* ---- wisp test ---- */

int app_test(const mf_app *app, FILE *out) {
  int failed = 0, passed = 0;
  for (size_t i = 0; i < app->nentries; i++) {
    const mf_entry *e = app->entries[i];
    if (!e->is_test) continue;
    char err[1024];
    int64_t t0 = clock_mono_ns();
    bool done = false, f = false;
    char *msg = NULL;
    uint64_t pid = spawn_entry(e->id, NULL, NULL, 0, NULL, NULL, EXEC_IDX, err, sizeof err);
    if (!pid) {
      f = true;
      msg = strdup(err);
    } else {
      while (!done) pump(0, &done, &f, &msg);
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    if (f) {
      failed++;
      fprintf(out, "FAIL %s (%.2fs): %s\n", e->id, secs, msg ? msg : "failed");
    } else {
      passed++;
      fprintf(out, "ok   %s (%.2fs)\n", e->id, secs);
    }
    free(msg);
  }
  fprintf(out, "%d passed, %d failed\n", passed, failed);
  return failed;
}
