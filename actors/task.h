/* actors/task.h — tasks: the Lua coroutines an actor schedules itself (the main function and
 * every coroutine.spawn), and the waiter records through which a task blocks on channels.
 *
 * Blocking protocol, used by every operation that may wait (channel, select, sleep, network):
 *   1. try the operation; if it completes, return its results as usual;
 *   2. otherwise take waiters with task_block_begin, link them where the waker will find them,
 *      and `return task_block(L, k, ctx)`; the coroutine yields to the actor's scheduler;
 *   3. a waker pushes the results onto the task's thread (task_push_results) and calls
 *      task_wake, which unlinks every waiter of that task and makes it ready;
 *   4. on resume, k runs with those results on top of the stack.
 * A blocking call made inside a user coroutine (coroutine.wrap/resume) propagates the yield
 * through stdlib/coroutine.c up to the task, so it blocks the whole task, as it must. */
#ifndef WISP_TASK_H
#define WISP_TASK_H
#include <lua.h>
#include <stdbool.h>
#include "actors/actor.h"

typedef struct wchan wchan;

typedef struct waiter {
  struct waiter *prev, *next; /* in the channel's send or receive queue */
  wchan *ch;
  struct waiter **qhead, **qtail; /* the queue it is linked in */
  wtask *task;
  int case_index; /* 1-based select case, 0 for a plain operation */
  int value_ref;  /* send waiters: registry ref of the value being sent */
  bool is_send;
  bool linked;
  bool external; /* its channel is fed from outside: counts in actor.ext_waits while linked */
} waiter;

enum task_state { TASK_READY, TASK_RUNNING, TASK_BLOCKED, TASK_DONE };

struct wtask {
  lua_State *co;
  int ref;            /* registry ref anchoring the thread */
  wtask *next;        /* ready list */
  wtask *all_prev, *all_next; /* every live task of the actor */
  int state;
  int nres;           /* values pushed onto co for the next resume */
  waiter *waiters;    /* current block: nwaiters records (inline_waiter when one) */
  int nwaiters;
  waiter inline_waiter;
  bool is_main;
};

/* Marker yielded by task_block so that resume wrappers recognise a scheduler block. */
extern char task_block_marker;

/* Creates a ready task running the function below the nargs arguments on top of L (popped). */
wtask *task_new(actor *a, lua_State *L, int nargs);
void task_free(actor *a, wtask *t); /* a finished (or abandoned) non-main task */
void task_make_ready(actor *a, wtask *t);
waiter *task_block_begin(actor *a, int n);
int task_block(lua_State *L, lua_KFunction k, lua_KContext ctx);
void task_cancel_block(actor *a, wtask *t); /* unlink waiters without waking */
void task_push_results(lua_State *from, wtask *t, int n); /* moves n values from `from` */
void task_wake(actor *a, wtask *t);
void task_destroy_all(actor *a);
wtask *task_of_thread(lua_State *L, lua_State *co); /* the task whose thread is co, or NULL */

/* Wait queues (doubly linked, FIFO): a waiter remembers its queue so a wake can unlink every
 * sibling of a select in O(cases). */
void waitq_push(waiter **head, waiter **tail, waiter *w);
void waitq_remove(waiter *w);

#endif
