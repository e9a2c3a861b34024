/* tests/unit/test_sched.c — actors on the worker pool: a busy actor does not starve the other
 * actors of its worker, terminate ends a busy actor, many actors run to completion, a memory
 * limit ends only the actor that exceeds it. */
#include <pthread.h>
#include <string.h>
#include "actors/actor.h"
#include "actors/sched.h"
#include "core/clock.h"
#include "net/netloop.h"
#include "stdlib/stdlib.h"
#include "tests/unit/t.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int exits, exit_kinds[8];

static void on_exit_cb(actor *a, void *ud) {
  pthread_mutex_lock(&mu);
  exits++;
  exit_kinds[a->exit_kind]++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static bool wait_exits(int n, int64_t timeout_ms) {
  int64_t deadline = clock_mono_ns() + timeout_ms * 1000000;
  pthread_mutex_lock(&mu);
  while (exits < n && clock_mono_ns() < deadline) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10000000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    pthread_cond_timedwait(&cv, &mu, &ts);
  }
  bool ok = exits >= n;
  pthread_mutex_unlock(&mu);
  return ok;
}

static void reset_exits(void) {
  pthread_mutex_lock(&mu);
  exits = 0;
  memset(exit_kinds, 0, sizeof exit_kinds);
  pthread_mutex_unlock(&mu);
}

static actor *spawn(const char *src, size_t limit) {
  char err[256];
  actor_config cfg = {.entry_id = "test", .chunk = src, .chunk_len = strlen(src), .chunk_name = "=test",
                      .memory_limit = limit, .on_exit = on_exit_cb};
  actor *a = actor_spawn(&cfg, err, sizeof err);
  if (!a) fprintf(stderr, "spawn failed: %s\n", err);
  return a;
}

static void busy_actor_does_not_starve_its_worker(void) {
  reset_exits();
  actor *busy = spawn("while true do end", 0);
  actor *quick = spawn("local x = 0 for i = 1, 1000 do x = x + i end return x", 0);
  CHECK(busy && quick);
  CHECK(wait_exits(1, 5000));
  CHECK_EQ(exit_kinds[EXIT_NORMAL], 1);
  actor_terminate(busy);
  CHECK(wait_exits(2, 5000));
  CHECK_EQ(exit_kinds[EXIT_TERMINATED], 1);
  actor_release(busy);
  actor_release(quick);
}

static void many_actors_complete(void) {
  reset_exits();
  enum { N = 2000 };
  static actor *as[N];
  for (int i = 0; i < N; i++) as[i] = spawn("local t = {} for i = 1, 10 do t[i] = i end return #t", 0);
  CHECK(wait_exits(N, 20000));
  CHECK_EQ(exit_kinds[EXIT_NORMAL], N);
  for (int i = 0; i < N; i++) if (as[i]) actor_release(as[i]);
  CHECK_EQ(actor_count(), 0);
}

static void memory_limit_ends_only_the_hog(void) {
  reset_exits();
  actor *hog = spawn("local t = {} while true do t[#t + 1] = string.rep('x', 65536) end", 1 << 20);
  actor *fine = spawn("local s = string.rep('y', 200000) return #s", 1 << 20);
  CHECK(wait_exits(2, 5000));
  CHECK_EQ(exit_kinds[EXIT_MEMORY], 1);
  CHECK_EQ(exit_kinds[EXIT_NORMAL], 1);
  CHECK(hog->exit_error && strstr(hog->exit_error, "memory limit exceeded"));
  actor_release(hog);
  actor_release(fine);
}

static void syntax_error_is_reported(void) {
  char err[256];
  const char *src = "local = 1";
  actor_config cfg = {.entry_id = "bad", .chunk = src, .chunk_len = strlen(src), .chunk_name = "@bad.lua"};
  actor *a = actor_spawn(&cfg, err, sizeof err);
  CHECK(a == NULL);
  CHECK(strstr(err, "bad.lua:1:") != NULL);
}

static void setup(void) {
  stdlib_init();
  CHECK_EQ(net_start(), 0);
  CHECK_EQ(sched_start(1), 0); /* one worker: starvation would show */
}

static void teardown(void) {
  sched_stop();
  net_stop();
}

TEST_MAIN(setup, busy_actor_does_not_starve_its_worker, many_actors_complete,
          memory_limit_ends_only_the_hog, syntax_error_is_reported, teardown)
