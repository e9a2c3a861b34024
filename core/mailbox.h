/* core/mailbox.h — the one way events reach an actor (DESIGN.md "One mailbox per actor").
 * A mailbox is an MPSC queue of entries plus a reference count and two hooks set by its owner:
 * notify (schedule the owner after a post) and destroy (free the owner when the last reference
 * goes). core/ knows nothing about actors; actors/ fills the hooks. Any thread may post; only the
 * owner's current runner drains. Once closed, posts are refused and the entry freed. */
#ifndef WISP_MAILBOX_H
#define WISP_MAILBOX_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/mpsc.h"

enum mbox_kind {
  MB_VALUE = 1,   /* data = one codec-encoded value, delivered to channel `target` */
  MB_TIMER,       /* a timer fired: target = channel id, arg = timer id, data = int64 unix ns */
  MB_MESSAGE,     /* process message: data = from pid, topic, encoded payload (stdlib/process) */
  MB_EVENT,       /* process event (EXIT, LINK_DOWN, CANCEL) */
  MB_NET,         /* WebSocket frame or connection state from the net thread */
  MB_SIGNAL,      /* runtime control: terminate (arg = reason code) */
};

typedef struct mbox_entry {
  mpsc_node node;
  uint32_t kind;   /* enum mbox_kind */
  uint32_t flags;  /* kind-specific */
  uint64_t target; /* actor-local channel id, 0 when the kind implies the target */
  uint64_t arg;    /* kind-specific */
  size_t len;
  char data[];
} mbox_entry;

typedef struct mailbox {
  mpsc_queue q;
  _Atomic int refs;
  _Atomic bool closed;
  _Atomic int64_t queued_bytes; /* bytes of entries posted and not yet drained */
  void (*notify)(struct mailbox *mb);
  void (*destroy)(struct mailbox *mb);
} mailbox;

void mbox_init(mailbox *mb, void (*notify)(mailbox *), void (*destroy)(mailbox *));
mbox_entry *mbox_entry_new(uint32_t kind, uint64_t target, uint64_t arg, const void *data, size_t len);
void mbox_entry_free(mbox_entry *e);
/* Posts e (ownership passes to the mailbox) and notifies the owner. False if closed. */
bool mbox_post(mailbox *mb, mbox_entry *e);
mbox_entry *mbox_take(mailbox *mb);         /* owner side; NULL when empty (or mid-post) */
bool mbox_maybe_nonempty(mailbox *mb);      /* owner side */
void mbox_close(mailbox *mb);               /* refuse further posts */
void mbox_discard_all(mailbox *mb);         /* owner side: free every queued entry */
void mbox_retain(mailbox *mb);
int64_t mbox_total_queued(void);            /* entries waiting in all mailboxes (metrics) */
void mbox_release(mailbox *mb);             /* calls destroy at zero */

#endif
