/* core/mpsc.c — Vyukov intrusive MPSC queue. The stub node keeps the list non-empty so that
 * push is one atomic exchange plus one store; pop re-inserts the stub when it reaches the end. */
#include "core/mpsc.h"
#include <stddef.h>

void mpsc_init(mpsc_queue *q) {
  atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
  atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
  q->tail = &q->stub;
}

void mpsc_push(mpsc_queue *q, mpsc_node *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  mpsc_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
  atomic_store_explicit(&prev->next, n, memory_order_release);
}

mpsc_node *mpsc_pop(mpsc_queue *q) {
  mpsc_node *tail = q->tail;
  mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (tail == &q->stub) {
    if (!next) return NULL;
    q->tail = next;
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next) {
    q->tail = next;
    return tail;
  }
  mpsc_node *head = atomic_load_explicit(&q->head, memory_order_acquire);
  if (tail != head) return NULL; /* a producer is mid-push */
  mpsc_push(q, &q->stub);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next) {
    q->tail = next;
    return tail;
  }
  return NULL;
}

bool mpsc_maybe_nonempty(mpsc_queue *q) {
  /* q->tail is always an unconsumed node unless it is the stub. */
  mpsc_node *tail = q->tail;
  if (tail != &q->stub) return true;
  if (atomic_load_explicit(&tail->next, memory_order_acquire)) return true;
  return atomic_load_explicit(&q->head, memory_order_acquire) != tail;
}
