/* actors/runq.h — a worker's run queue: a FIFO of runnable actors, linked through
 * actor.runq_next, guarded by a mutex. The owner pushes and pops at the ends; thieves take
 * half of the queue from the head in one critical section. */
#ifndef WISP_RUNQ_H
#define WISP_RUNQ_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include "actors/actor.h"

typedef struct runq {
  pthread_mutex_t mu;
  actor *head, *tail;
  _Atomic size_t len; /* read without the lock by thieves and metrics */
} runq;

void runq_init(runq *q);
void runq_destroy(runq *q);
void runq_push(runq *q, actor *a);
actor *runq_pop(runq *q);
/* Moves up to half (at least one) of victim's actors to q; returns one of them to run now. */
actor *runq_steal(runq *q, runq *victim);
size_t runq_len(runq *q);

#endif
