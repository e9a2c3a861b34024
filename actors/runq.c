/* actors/runq.c — see runq.h. */
#include "actors/runq.h"

void runq_init(runq *q) {
  pthread_mutex_init(&q->mu, NULL);
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
}

void runq_destroy(runq *q) { pthread_mutex_destroy(&q->mu); }

static void push_locked(runq *q, actor *a) {
  a->runq_next = NULL;
  if (q->tail) q->tail->runq_next = a;
  else q->head = a;
  q->tail = a;
  atomic_fetch_add(&q->len, 1);
}

static actor *pop_locked(runq *q) {
  actor *a = q->head;
  if (!a) return NULL;
  q->head = a->runq_next;
  if (!q->head) q->tail = NULL;
  a->runq_next = NULL;
  atomic_fetch_sub(&q->len, 1);
  return a;
}

void runq_push(runq *q, actor *a) {
  pthread_mutex_lock(&q->mu);
  push_locked(q, a);
  pthread_mutex_unlock(&q->mu);
}

actor *runq_pop(runq *q) {
  if (atomic_load_explicit(&q->len, memory_order_relaxed) == 0) return NULL;
  pthread_mutex_lock(&q->mu);
  actor *a = pop_locked(q);
  pthread_mutex_unlock(&q->mu);
  return a;
}

actor *runq_steal(runq *q, runq *victim) {
  if (q == victim || atomic_load_explicit(&victim->len, memory_order_relaxed) == 0) return NULL;
  if (pthread_mutex_trylock(&victim->mu) != 0) return NULL;
  size_t n = atomic_load(&victim->len);
  size_t take = n - n / 2; /* half, rounded up */
  actor *first = NULL, *batch_head = NULL, *batch_tail = NULL;
  for (size_t i = 0; i < take; i++) {
    actor *a = pop_locked(victim);
    if (!a) break;
    if (!first) { first = a; continue; }
    if (batch_tail) batch_tail->runq_next = a;
    else batch_head = a;
    batch_tail = a;
  }
  pthread_mutex_unlock(&victim->mu);
  if (batch_head) {
    pthread_mutex_lock(&q->mu);
    for (actor *a = batch_head, *next; a; a = next) {
      next = a->runq_next;
      push_locked(q, a);
    }
    pthread_mutex_unlock(&q->mu);
  }
  return first;
}

size_t runq_len(runq *q) { return atomic_load_explicit(&q->len, memory_order_relaxed); }
