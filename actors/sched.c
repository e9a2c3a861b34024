/* actors/sched.c — workers (see sched.h). */
#include "actors/sched.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "actors/runq.h"

#define NOTIFIED 1u
#define SLICE_NS 5000000 /* an actor runs at most ~5 ms before others get the worker */
#define MAX_WORKERS 256

typedef struct worker {
  pthread_t thread;
  int index;
  runq q;
  unsigned seed;
} worker;

static worker *workers;
static int nworkers;
static _Atomic bool stopping;
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int nparked;
static _Atomic size_t total_queued;
static _Atomic unsigned rr;
static _Atomic uint64_t stat_steals, stat_runs, stat_parks;
static _Thread_local worker *self;

int sched_nworkers(void) { return nworkers; }

static void wake_one(void) {
  if (atomic_load(&nparked) == 0) return;
  pthread_mutex_lock(&park_mu);
  pthread_cond_signal(&park_cv);
  pthread_mutex_unlock(&park_mu);
}

void sched_enqueue(actor *a) {
  actor_retain(a);
  worker *w = self ? self : &workers[atomic_fetch_add(&rr, 1) % (unsigned)nworkers];
  atomic_fetch_add(&total_queued, 1);
  runq_push(&w->q, a);
  wake_one();
}

void sched_notify(mailbox *mb) {
  actor *a = (actor *)mb;
  if (atomic_fetch_or(&a->sched_flags, NOTIFIED) & NOTIFIED) return;
  sched_enqueue(a);
}

static actor *find_work(worker *w) {
  actor *a = runq_pop(&w->q);
  if (a) return a;
  for (int i = 1; i < nworkers; i++) {
    worker *v = &workers[(w->index + i) % nworkers];
    a = runq_steal(&w->q, &v->q);
    if (a) {
      atomic_fetch_add_explicit(&stat_steals, 1, memory_order_relaxed);
      return a;
    }
  }
  return NULL;
}

static void run_one(actor *a) {
  atomic_fetch_sub(&total_queued, 1);
  atomic_fetch_add_explicit(&stat_runs, 1, memory_order_relaxed);
  int r = a->status == ACTOR_DONE ? RUN_IDLE : actor_run(a, SLICE_NS);
  if (r == RUN_DONE) {
    actor_finish(a);
  } else if (r == RUN_YIELD) {
    atomic_fetch_add(&total_queued, 1);
    runq_push(&self->q, a); /* keeps NOTIFIED and our reference */
    wake_one();             /* a parked worker may steal it */
    return;
  } else {
    atomic_store(&a->sched_flags, 0);
    if (a->status != ACTOR_DONE && mbox_maybe_nonempty(&a->mb)) sched_notify(&a->mb);
  }
  actor_release(a);
}

static void *worker_main(void *arg) {
  self = arg;
  while (!atomic_load(&stopping)) {
    actor *a = find_work(self);
    if (a) { run_one(a); continue; }
    pthread_mutex_lock(&park_mu);
    atomic_fetch_add(&nparked, 1);
    while (!atomic_load(&stopping) && atomic_load(&total_queued) == 0) {
      atomic_fetch_add_explicit(&stat_parks, 1, memory_order_relaxed);
      pthread_cond_wait(&park_cv, &park_mu);
    }
    atomic_fetch_sub(&nparked, 1);
    pthread_mutex_unlock(&park_mu);
  }
  return NULL;
}

int sched_start(int n) {
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  if (n > MAX_WORKERS) n = MAX_WORKERS;
  workers = calloc((size_t)n, sizeof *workers);
  if (!workers) return -1;
  nworkers = n;
  atomic_store(&stopping, false);
  for (int i = 0; i < n; i++) {
    workers[i].index = i;
    runq_init(&workers[i].q);
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
      fprintf(stderr, "wisp: cannot start worker thread %d\n", i);
      nworkers = i;
      sched_stop();
      return -1;
    }
  }
  return 0;
}

void sched_stop(void) {
  pthread_mutex_lock(&park_mu);
  atomic_store(&stopping, true);
  pthread_cond_broadcast(&park_cv);
  pthread_mutex_unlock(&park_mu);
  for (int i = 0; i < nworkers; i++) pthread_join(workers[i].thread, NULL);
  for (int i = 0; i < nworkers; i++) {
    actor *a;
    while ((a = runq_pop(&workers[i].q)) != NULL) actor_release(a);
    runq_destroy(&workers[i].q);
  }
  free(workers);
  workers = NULL;
  nworkers = 0;
}

void sched_get_stats(sched_stats *out) {
  out->steals = atomic_load(&stat_steals);
  out->runs = atomic_load(&stat_runs);
  out->parks = atomic_load(&stat_parks);
  out->queued = atomic_load(&total_queued);
}
