/* tests/unit/test_runq_stress.c — run queues with one owner and concurrent thieves: every
 * actor is taken exactly once. Meant to run under TSan too. */
#include <pthread.h>
#include <stdlib.h>
#include "actors/runq.h"
#include "tests/unit/t.h"

#define N_ACTORS 20000
#define THIEVES 3

static runq owner_q, thief_q[THIEVES];
static actor *actors;
static _Atomic int taken[N_ACTORS];
static _Atomic int total_taken;

static void take(actor *a) {
  atomic_fetch_add(&taken[a - actors], 1);
  atomic_fetch_add(&total_taken, 1);
}

static void *thief(void *arg) {
  runq *mine = arg;
  while (atomic_load(&total_taken) < N_ACTORS) {
    actor *a = runq_steal(mine, &owner_q);
    if (a) take(a);
    while ((a = runq_pop(mine)) != NULL) take(a);
  }
  return NULL;
}

static void steal_takes_each_actor_once(void) {
  actors = calloc(N_ACTORS, sizeof *actors);
  runq_init(&owner_q);
  pthread_t th[THIEVES];
  for (int i = 0; i < THIEVES; i++) {
    runq_init(&thief_q[i]);
    pthread_create(&th[i], NULL, thief, &thief_q[i]);
  }
  for (int i = 0; i < N_ACTORS; i++) {
    runq_push(&owner_q, &actors[i]);
    if (i % 3 == 0) {
      actor *a = runq_pop(&owner_q);
      if (a) take(a);
    }
  }
  while (atomic_load(&total_taken) < N_ACTORS) {
    actor *a = runq_pop(&owner_q);
    if (a) take(a);
  }
  for (int i = 0; i < THIEVES; i++) pthread_join(th[i], NULL);
  int twice = 0, never = 0;
  for (int i = 0; i < N_ACTORS; i++) {
    if (taken[i] == 0) never++;
    if (taken[i] > 1) twice++;
  }
  CHECK_EQ(never, 0);
  CHECK_EQ(twice, 0);
  CHECK_EQ(runq_len(&owner_q), 0);
  free(actors);
}

static void fifo_order(void) {
  runq q;
  runq_init(&q);
  actor a[3];
  for (int i = 0; i < 3; i++) runq_push(&q, &a[i]);
  CHECK(runq_pop(&q) == &a[0]);
  CHECK(runq_pop(&q) == &a[1]);
  CHECK(runq_pop(&q) == &a[2]);
  CHECK(runq_pop(&q) == NULL);
  runq_destroy(&q);
}

TEST_MAIN(fifo_order, steal_takes_each_actor_once)
