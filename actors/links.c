/* actors/links.c — see links.h. Lock order: at most one actor's links_mu is held at a time;
 * events are posted after the lock is released. */
#include "actors/links.h"
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t next_ref = 1;

static void put_u32(wbuf *b, uint32_t v) { wbuf_append(b, &v, sizeof v); }

mbox_entry *proc_event_entry(int kind, uint64_t from, uint64_t chan, const char *reason,
                             const char *err_kind, const char *result, size_t result_len) {
  wbuf b = WBUF_INIT;
  wbuf_putc(&b, (uint8_t)kind);
  wbuf_append(&b, &from, sizeof from);
  size_t rl = reason ? strlen(reason) : 0;
  put_u32(&b, (uint32_t)rl);
  wbuf_append(&b, reason, rl);
  if (err_kind) {
    size_t kl = strlen(err_kind);
    put_u32(&b, (uint32_t)kl);
    wbuf_append(&b, err_kind, kl);
  } else {
    put_u32(&b, 0xffffffffu);
  }
  wbuf_append(&b, result, result_len);
  mbox_entry *e = mbox_entry_new(MB_EVENT, chan, (uint64_t)kind, b.data, b.len);
  wbuf_free(&b);
  return e;
}

bool proc_event_decode(const char *p, size_t len, proc_event *ev) {
  size_t pos = 0;
  uint32_t n;
  memset(ev, 0, sizeof *ev);
  if (len < 1 + 8 + 4) return false;
  ev->kind = (uint8_t)p[0];
  memcpy(&ev->from, p + 1, 8);
  pos = 9;
  memcpy(&n, p + pos, 4);
  pos += 4;
  if (n > len - pos) return false;
  ev->reason = p + pos;
  ev->reason_len = n;
  pos += n;
  if (len - pos < 4) return false;
  memcpy(&n, p + pos, 4);
  pos += 4;
  if (n != 0xffffffffu) {
    if (n > len - pos) return false;
    ev->has_error = true;
    ev->err_kind = p + pos;
    ev->err_kind_len = n;
    pos += n;
  }
  ev->result = p + pos;
  ev->result_len = len - pos;
  return true;
}

static void post_to(uint64_t pid, mbox_entry *e) {
  actor *t = actor_lookup(pid);
  if (!t) { mbox_entry_free(e); return; }
  mbox_post(&t->mb, e);
  actor_release(t);
}

static void noproc(uint64_t watcher, uint64_t target, uint64_t chan, int kind) {
  post_to(watcher, proc_event_entry(kind, target, chan, "noproc", "NotFound", NULL, 0));
}

uint64_t links_monitor(uint64_t watcher_pid, uint64_t target_pid, uint64_t chan) {
  uint64_t ref = atomic_fetch_add(&next_ref, 1);
  actor *t = actor_lookup(target_pid);
  bool added = false;
  if (t) {
    pthread_mutex_lock(&t->links_mu);
    if (!t->exited) {
      if (t->nwatchers == t->capwatchers) {
        t->capwatchers = t->capwatchers ? t->capwatchers * 2 : 4;
        t->watchers = realloc(t->watchers, sizeof *t->watchers * (size_t)t->capwatchers);
        if (!t->watchers) abort();
      }
      t->watchers[t->nwatchers++] = (actor_watch){watcher_pid, chan, ref};
      added = true;
    }
    pthread_mutex_unlock(&t->links_mu);
    actor_release(t);
  }
  if (!added) noproc(watcher_pid, target_pid, chan, EV_EXIT);
  return ref;
}

void links_unmonitor(uint64_t target_pid, uint64_t ref) {
  actor *t = actor_lookup(target_pid);
  if (!t) return;
  pthread_mutex_lock(&t->links_mu);
  for (int i = 0; i < t->nwatchers; i++)
    if (t->watchers[i].ref == ref) {
      t->watchers[i] = t->watchers[--t->nwatchers];
      break;
    }
  pthread_mutex_unlock(&t->links_mu);
  actor_release(t);
}

static bool add_link_locked(actor *a, uint64_t pid) {
  for (int i = 0; i < a->nlinks; i++)
    if (a->links[i] == pid) return true;
  if (a->nlinks == a->caplinks) {
    a->caplinks = a->caplinks ? a->caplinks * 2 : 4;
    a->links = realloc(a->links, sizeof *a->links * (size_t)a->caplinks);
    if (!a->links) abort();
  }
  a->links[a->nlinks++] = pid;
  return true;
}

static void remove_link_locked(actor *a, uint64_t pid) {
  for (int i = 0; i < a->nlinks; i++)
    if (a->links[i] == pid) {
      a->links[i] = a->links[--a->nlinks];
      return;
    }
}

bool links_link(actor *a, uint64_t pid) {
  if (pid == a->pid) return true;
  actor *t = actor_lookup(pid);
  bool ok = false;
  if (t) {
    pthread_mutex_lock(&t->links_mu);
    if (!t->exited) ok = add_link_locked(t, a->pid);
    pthread_mutex_unlock(&t->links_mu);
    actor_release(t);
  }
  if (!ok) return false;
  pthread_mutex_lock(&a->links_mu);
  add_link_locked(a, pid);
  pthread_mutex_unlock(&a->links_mu);
  return true;
}

void links_unlink(actor *a, uint64_t pid) {
  pthread_mutex_lock(&a->links_mu);
  remove_link_locked(a, pid);
  pthread_mutex_unlock(&a->links_mu);
  actor *t = actor_lookup(pid);
  if (!t) return;
  pthread_mutex_lock(&t->links_mu);
  remove_link_locked(t, a->pid);
  pthread_mutex_unlock(&t->links_mu);
  actor_release(t);
}

/* The message of an exit without its traceback. */
static char *exit_reason(actor *a) {
  if (!a->exit_error) return NULL;
  const char *tb = strstr(a->exit_error, "\nstack traceback:");
  size_t n = tb ? (size_t)(tb - a->exit_error) : strlen(a->exit_error);
  return strndup(a->exit_error, n);
}

void links_on_exit(actor *a) {
  pthread_mutex_lock(&a->links_mu);
  a->exited = true;
  actor_watch *ws = a->watchers;
  int nw = a->nwatchers;
  uint64_t *ls = a->links;
  int nl = a->nlinks;
  a->watchers = NULL;
  a->links = NULL;
  a->nwatchers = a->capwatchers = a->nlinks = a->caplinks = 0;
  pthread_mutex_unlock(&a->links_mu);

  bool failed = a->exit_kind != EXIT_NORMAL || a->exit_returned_failure;
  char *reason = exit_reason(a);
  const char *kind = failed ? (a->exit_error_kind ? a->exit_error_kind : "") : NULL;
  for (int i = 0; i < nw; i++)
    post_to(ws[i].pid, proc_event_entry(EV_EXIT, a->pid, ws[i].chan, reason, kind,
                                        a->exit_result.data, a->exit_result.len));
  for (int i = 0; i < nl; i++) {
    if (failed) {
      post_to(ls[i], proc_event_entry(EV_LINK_DOWN, a->pid, 0, reason ? reason : "failed", kind, NULL, 0));
    } else { /* a normal end just dissolves the link */
      actor *t = actor_lookup(ls[i]);
      if (t) {
        pthread_mutex_lock(&t->links_mu);
        remove_link_locked(t, a->pid);
        pthread_mutex_unlock(&t->links_mu);
        actor_release(t);
      }
    }
  }
  free(reason);
  free(ws);
  free(ls);
}

bool links_cancel(uint64_t from, uint64_t target_pid, const char *reason) {
  actor *t = actor_lookup(target_pid);
  if (!t) return false;
  bool ok = mbox_post(&t->mb, proc_event_entry(EV_CANCEL, from, 0, reason, NULL, NULL, 0));
  actor_release(t);
  return ok;
}
