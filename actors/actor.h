/* actors/actor.h — one actor: a lua_State of its own, a mailbox, a memory limit, and the
 * cooperative scheduler of its coroutines ("tasks"). An actor is run by at most one worker at a
 * time (guaranteed by the NOTIFIED protocol in actors/sched.c), so nothing here is locked except
 * what other threads touch: the mailbox, the reference count and the scheduling flags. */
#ifndef WISP_ACTOR_H
#define WISP_ACTOR_H
#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/mailbox.h"

typedef struct wtask wtask;

enum actor_status { ACTOR_NEW, ACTOR_RUNNING, ACTOR_DONE };
enum actor_run_result { RUN_IDLE, RUN_YIELD, RUN_DONE };
enum actor_exit_kind { EXIT_NORMAL, EXIT_ERROR, EXIT_MEMORY, EXIT_DEADLOCK, EXIT_TERMINATED };

#define ACTOR_DEFAULT_MEMORY_LIMIT ((size_t)64 << 20)

typedef struct actor actor;

/* What to run and how: filled by the caller of actor_spawn, copied by it. */
typedef struct actor_config {
  const char *entry_id;     /* "ns:name" or "file://path.lua" */
  const char *chunk;        /* Lua source text or bytecode */
  size_t chunk_len;
  const char *chunk_name;   /* "@path" for tracebacks */
  bool chunk_is_binary;     /* precompiled by the runtime (never user input) */
  const char *method;       /* NULL: call the chunk itself with the args */
  const char *args;         /* codec record (wcodec_encode_n) passed as ..., may be NULL */
  size_t args_len;
  size_t memory_limit;      /* 0 = default */
  void (*on_exit)(actor *a, void *ud); /* called once on the worker that ends it */
  void *on_exit_ud;
  /* set up before the actor can run, so they cannot miss its exit */
  uint64_t parent;          /* pid of the spawner, 0 for the runtime */
  uint64_t link_to;         /* link with this pid */
  uint64_t monitor_by;      /* this pid monitors the new actor... */
  uint64_t monitor_chan;    /* ...with EXIT delivered to this channel (0 = its events channel) */
  const char *base_dir;     /* where file:// ids are resolved (exec mode), NULL otherwise */
  bool exec_mode;           /* file:// ids allowed */
  const char *const *modules; /* allowed require()s, NULL = all */
  const char *const *imports; /* alias, library entry id, alias, id, ..., NULL */
  _Atomic int *host_count;  /* live actors of its host: decremented when it ends */
  const char *host_name;    /* for metrics; must outlive the actor (manifest strings do) */
  void *security;           /* security context (retained by the actor), NULL = operator */
} actor_config;

/* Who watches an actor: an EXIT event goes to pid, into channel chan (0 = events channel). */
typedef struct actor_watch {
  uint64_t pid;
  uint64_t chan;
  uint64_t ref; /* monitor reference (for unmonitor) */
} actor_watch;

struct actor {
  mailbox mb; /* first: a mailbox pointer is an actor pointer */
  _Atomic uint32_t sched_flags;
  actor *runq_next;
  uint64_t pid;
  char *entry_id;
  lua_State *L;
  int status; /* enum actor_status, touched only by the running worker */

  /* memory accounting, touched only by the running worker (the allocator runs there) */
  size_t mem_used, mem_limit;
  bool mem_exceeded;

  /* tasks */
  wtask *ready_head, *ready_tail;
  wtask *current;
  wtask *main_task;
  int ntasks;
  bool preempted;      /* set by the count hook before it yields */
  int64_t slice_start; /* monotonic ns when the current task was resumed */

  /* deadlock detection: things outside the actor that can still wake a task */
  int ext_pending; /* armed timers, net operations in flight */
  int ext_waits;   /* waiters parked on channels fed from outside (inbox, websocket) */
  uint64_t next_chan_id;

  /* exit */
  int exit_kind;       /* enum actor_exit_kind */
  char *exit_error;    /* message + traceback, malloc'd, NULL on normal exit */
  wbuf exit_result;    /* codec record of the main function's results */
  bool exit_returned_failure; /* returned nil, err or false */
  void (*on_exit)(actor *a, void *ud);
  void *on_exit_ud;
  char *exit_error_kind; /* errors kind of the failure ("" unknown), NULL on normal exit */
  void *ext; /* per-actor state of higher layers (websocket clients) */
  void *security; /* security context; released when the actor is destroyed */
  char *base_dir;
  bool exec_mode;
  _Atomic int *host_count;
  const char *host_name;
  _Atomic size_t mem_reported; /* mem_used as of the end of the last run, for metrics */
  struct metric_series *m_alive;
  uint64_t parent;

  /* links and monitors: read and written by other actors' workers under links_mu */
  pthread_mutex_t links_mu;
  bool exited;          /* set under links_mu once, when the actor ends */
  actor_watch *watchers;
  int nwatchers, capwatchers;
  uint64_t *links;
  int nlinks, caplinks;
  /* touched by the own worker only */
  bool trap_links;
  bool events_requested; /* process.events() was called: CANCEL is delivered, not fatal */
};

/* Creates the actor and its state, loads the chunk and schedules it. Returns NULL with a
 * message in err on failure (syntax error, out of memory). The returned pointer carries one
 * reference for the caller (release with actor_release). */
actor *actor_spawn(const actor_config *cfg, char *err, size_t errlen);
void actor_retain(actor *a);
void actor_release(actor *a);

/* Worker side: runs for up to slice_ns. */
int actor_run(actor *a, int64_t slice_ns);
/* Worker side: after RUN_DONE; closes the state and fires on_exit. */
void actor_finish(actor *a);

/* Any thread: ask the actor to stop (delivered as an MB_SIGNAL entry). */
void actor_terminate(actor *a);

/* From Lua: the actor that owns L (stored in the state's extra space). */
static inline actor *actor_of(lua_State *L) { return *(actor **)lua_getextraspace(L); }

/* Fails the actor from inside a task: the message becomes its exit error. */
void actor_fail(actor *a, int kind, const char *msg);

/* Mailbox entries are turned into channel deliveries by handlers that the stdlib modules
 * register at start-up (actors/ does not know channels, timers or sockets). A handler runs on
 * the actor's worker inside a protected call with L = the actor's main state; it must not
 * free the entry. */
typedef void (*actor_handler)(lua_State *L, actor *a, mbox_entry *e);
void actor_set_handler(uint32_t kind, actor_handler fn);
actor_handler actor_get_handler(uint32_t kind); /* to wrap one (metrics) */

/* Hook for higher layers to release per-actor state (a->ext) when the actor ends, called
 * before the Lua state is closed. */
void actor_set_cleanup(void (*fn)(actor *a));

/* Resolves an entry id (and optional host) for a spawn into cfg: chunk, chunk_len,
 * chunk_is_binary, chunk_name, entry_id, method, memory_limit, modules, imports, host_count.
 * Returns 0, 1 (not found: message in err) or 2 (refused: message in err). Strings put in cfg
 * must outlive the spawn call. Set once by the app layer; NULL when no app is loaded. */
typedef int (*actor_resolver)(actor *parent, const char *id, const char *host, actor_config *cfg,
                              char *err, size_t errlen);
void actor_set_resolver(actor_resolver fn);
actor_resolver actor_get_resolver(void);

/* Loads library entry `id` into L and pushes its value (require of an imported alias). */
typedef int (*actor_library_loader)(lua_State *L, const char *id);
void actor_set_library_loader(actor_library_loader fn);
actor_library_loader actor_get_library_loader(void);

/* How the actor releases its security context (set by the security room's user at start-up). */
void actor_set_security_release(void (*fn)(void *ctx));

/* Registers the runtime-wide actor and scheduler metrics (once, at start-up). */
void actors_metrics_init(void);

/* pid table */
actor *actor_lookup(uint64_t pid); /* retained, or NULL */
void actor_format_pid(uint64_t pid, char *out, size_t outlen); /* "<0.42>" */
bool actor_parse_pid(const char *s, size_t len, uint64_t *pid);
size_t actor_count(void);

#endif
