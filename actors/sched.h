/* actors/sched.h — the worker pool: N threads, a run queue each, stealing when idle, parking
 * on a condition variable (a futex underneath) when nothing is runnable anywhere.
 * Scheduling protocol (no lost wake-ups, no double runs): an actor is queued when a notify
 * flips its NOTIFIED flag from 0 to 1; the flag stays set while it is queued or running; the
 * worker that ran it clears the flag and re-checks the mailbox before letting go. */
#ifndef WISP_SCHED_H
#define WISP_SCHED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "actors/actor.h"

int sched_start(int nworkers);     /* 0 workers = one per online core */
void sched_stop(void);             /* joins the workers; actors still alive stay as they are */
int sched_nworkers(void);
void sched_notify(mailbox *mb);    /* the mailbox notify hook of every actor */
void sched_enqueue(actor *a);      /* queue a runnable actor (takes a reference) */

typedef struct sched_stats {
  uint64_t steals, runs, parks;
  size_t queued;
} sched_stats;
void sched_get_stats(sched_stats *out);

#endif
