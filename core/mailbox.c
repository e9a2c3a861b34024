/* core/mailbox.c — mailbox entries, posting, reference counting. */
#include "core/mailbox.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t total_queued; /* entries posted and not yet taken, every mailbox */

int64_t mbox_total_queued(void) { return atomic_load_explicit(&total_queued, memory_order_relaxed); }

void mbox_init(mailbox *mb, void (*notify)(mailbox *), void (*destroy)(mailbox *)) {
  mpsc_init(&mb->q);
  atomic_init(&mb->refs, 1);
  atomic_init(&mb->closed, false);
  atomic_init(&mb->queued_bytes, 0);
  mb->notify = notify;
  mb->destroy = destroy;
}

mbox_entry *mbox_entry_new(uint32_t kind, uint64_t target, uint64_t arg, const void *data, size_t len) {
  mbox_entry *e = malloc(sizeof *e + len);
  if (!e) { fputs("wisp: out of memory allocating a mailbox entry\n", stderr); abort(); }
  e->kind = kind;
  e->flags = 0;
  e->target = target;
  e->arg = arg;
  e->len = len;
  if (len && data) memcpy(e->data, data, len);
  return e;
}

void mbox_entry_free(mbox_entry *e) { free(e); }

bool mbox_post(mailbox *mb, mbox_entry *e) {
  if (atomic_load(&mb->closed)) {
    free(e);
    return false;
  }
  atomic_fetch_add(&mb->queued_bytes, (int64_t)(sizeof *e + e->len));
  atomic_fetch_add_explicit(&total_queued, 1, memory_order_relaxed);
  mpsc_push(&mb->q, &e->node);
  if (mb->notify) mb->notify(mb);
  return true;
}

mbox_entry *mbox_take(mailbox *mb) {
  mpsc_node *n = mpsc_pop(&mb->q);
  if (!n) return NULL;
  mbox_entry *e = (mbox_entry *)((char *)n - offsetof(mbox_entry, node));
  atomic_fetch_sub(&mb->queued_bytes, (int64_t)(sizeof *e + e->len));
  atomic_fetch_sub_explicit(&total_queued, 1, memory_order_relaxed);
  return e;
}

bool mbox_maybe_nonempty(mailbox *mb) { return mpsc_maybe_nonempty(&mb->q); }

void mbox_close(mailbox *mb) { atomic_store(&mb->closed, true); }

void mbox_discard_all(mailbox *mb) {
  mbox_entry *e;
  while ((e = mbox_take(mb)) != NULL) free(e);
}

void mbox_retain(mailbox *mb) { atomic_fetch_add(&mb->refs, 1); }

void mbox_release(mailbox *mb) {
  if (atomic_fetch_sub(&mb->refs, 1) == 1) {
    mbox_discard_all(mb);
    if (mb->destroy) mb->destroy(mb);
  }
}
