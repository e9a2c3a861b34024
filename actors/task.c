/* actors/task.c — the tasks of one actor: creation, the ready list, blocking and waking.
 * Invariants: a task is in exactly one of {ready list, running, blocked, done}; a blocked task's
 * waiters are all linked in their queues and unlinked together, by task_wake or
 * task_cancel_block, so a select never leaves stale waiters behind. */
#include "actors/task.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

char task_block_marker;

static void release_waiters(actor *a, wtask *t, bool unref);

static void *task_calloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) abort();
  return p;
}

static void all_link(actor *a, wtask *t) {
  /* the main task is the first task created and heads the list */
  if (!a->main_task) {
    a->main_task = t;
    t->is_main = true;
    return;
  }
  t->all_prev = a->main_task;
  t->all_next = a->main_task->all_next;
  if (t->all_next) t->all_next->all_prev = t;
  a->main_task->all_next = t;
}

static void thread_map_set(lua_State *L, wtask *t, bool add) {
  lua_pushlightuserdata(L, (void *)&task_block_marker);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    if (add) lua_pushlightuserdata(L, t);
    else lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

wtask *task_new(actor *a, lua_State *L, int nargs) {
  lua_State *co = lua_newthread(L);
  wtask *t = task_calloc(1, sizeof *t);
  t->co = co;
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the thread */
  lua_xmove(L, co, nargs + 1);             /* function and arguments */
  t->nres = nargs;
  a->ntasks++;
  all_link(a, t);
  thread_map_set(L, t, true);
  task_make_ready(a, t);
  return t;
}

void task_free(actor *a, wtask *t) {
  release_waiters(a, t, true);
  if (t->all_prev) t->all_prev->all_next = t->all_next;
  if (t->all_next) t->all_next->all_prev = t->all_prev;
  if (a->main_task == t) a->main_task = NULL;
  thread_map_set(a->L, t, false);
  luaL_unref(a->L, LUA_REGISTRYINDEX, t->ref);
  a->ntasks--;
  free(t);
}

wtask *task_of_thread(lua_State *L, lua_State *co) {
  lua_pushlightuserdata(L, (void *)&task_block_marker);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_istable(L, -1)) { lua_pop(L, 1); return NULL; }
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_rawget(L, -2);
  wtask *t = lua_touserdata(L, -1);
  lua_pop(L, 2);
  return t;
}

void task_make_ready(actor *a, wtask *t) {
  t->state = TASK_READY;
  t->next = NULL;
  if (a->ready_tail) a->ready_tail->next = t;
  else a->ready_head = t;
  a->ready_tail = t;
}

waiter *task_block_begin(actor *a, int n) {
  wtask *t = a->current;
  if (t->waiters && t->waiters != &t->inline_waiter) free(t->waiters);
  t->waiters = n == 1 ? &t->inline_waiter : task_calloc((size_t)n, sizeof(waiter));
  memset(t->waiters, 0, sizeof(waiter) * (size_t)n);
  for (int i = 0; i < n; i++) {
    t->waiters[i].task = t;
    t->waiters[i].value_ref = LUA_NOREF;
  }
  t->nwaiters = n;
  return t->waiters;
}

int task_block(lua_State *L, lua_KFunction k, lua_KContext ctx) {
  actor *a = actor_of(L);
  a->current->state = TASK_BLOCKED;
  a->current->nres = 0;
  lua_pushlightuserdata(L, &task_block_marker);
  return lua_yieldk(L, 1, ctx, k);
}

void waitq_push(waiter **head, waiter **tail, waiter *w) {
  w->qhead = head;
  w->qtail = tail;
  w->next = NULL;
  w->prev = *tail;
  if (*tail) (*tail)->next = w;
  else *head = w;
  *tail = w;
  w->linked = true;
}

void waitq_remove(waiter *w) {
  if (!w->linked) return;
  if (w->prev) w->prev->next = w->next;
  else *w->qhead = w->next;
  if (w->next) w->next->prev = w->prev;
  else *w->qtail = w->prev;
  w->prev = w->next = NULL;
  w->linked = false;
}

static void release_waiters(actor *a, wtask *t, bool unref) {
  for (int i = 0; i < t->nwaiters; i++) {
    waiter *w = &t->waiters[i];
    if (w->linked && w->external) a->ext_waits--;
    waitq_remove(w);
    if (w->value_ref != LUA_NOREF && unref) luaL_unref(a->L, LUA_REGISTRYINDEX, w->value_ref);
    w->value_ref = LUA_NOREF;
  }
  if (t->waiters && t->waiters != &t->inline_waiter) free(t->waiters);
  t->waiters = NULL;
  t->nwaiters = 0;
}

void task_cancel_block(actor *a, wtask *t) { release_waiters(a, t, true); }

void task_push_results(lua_State *from, wtask *t, int n) {
  lua_checkstack(t->co, n + 1);
  lua_xmove(from, t->co, n);
  t->nres += n;
}

void task_wake(actor *a, wtask *t) {
  if (t->state != TASK_BLOCKED) return;
  release_waiters(a, t, true);
  task_make_ready(a, t);
}

void task_destroy_all(actor *a) {
  wtask *t = a->main_task;
  while (t) {
    wtask *next = t->all_next;
    release_waiters(a, t, false);
    free(t);
    t = next;
  }
  a->main_task = NULL;
  a->ready_head = a->ready_tail = NULL;
  a->current = NULL;
  a->ntasks = 0;
}
