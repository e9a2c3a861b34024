/* core/mpsc.h — intrusive multi-producer single-consumer queue (Vyukov's algorithm).
 * Producers never block and never allocate. The single consumer may briefly see the queue as
 * "busy" (mpsc_pop returns NULL while mpsc_maybe_nonempty is true) while a producer is between
 * its two stores; callers re-check after the producer's notification, which always follows. */
#ifndef WISP_MPSC_H
#define WISP_MPSC_H
#include <stdatomic.h>
#include <stdbool.h>

typedef struct mpsc_node {
  _Atomic(struct mpsc_node *) next;
} mpsc_node;

typedef struct mpsc_queue {
  _Atomic(mpsc_node *) head; /* producers swap themselves in here */
  mpsc_node *tail;           /* consumer only */
  mpsc_node stub;
} mpsc_queue;

void mpsc_init(mpsc_queue *q);
void mpsc_push(mpsc_queue *q, mpsc_node *n);          /* any thread */
mpsc_node *mpsc_pop(mpsc_queue *q);                   /* consumer only; NULL if empty or busy */
bool mpsc_maybe_nonempty(mpsc_queue *q);              /* consumer only */

#endif
