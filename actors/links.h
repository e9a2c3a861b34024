/* actors/links.h — links and monitors between actors (Erlang semantics, SPEC.md "process").
 * A monitor is one-way: the watcher gets an EXIT event when the target ends, however it ends.
 * A link is two-way: when either side ends abnormally the other gets LINK_DOWN, which kills it
 * unless it traps links. Both lists live on the watched actor under its links_mu; an actor
 * that has already exited answers at once (EXIT "noproc" / LINK_DOWN), so nothing is missed. */
#ifndef WISP_LINKS_H
#define WISP_LINKS_H
#include <stdint.h>
#include "actors/actor.h"

enum proc_event_kind { EV_EXIT = 1, EV_LINK_DOWN, EV_CANCEL };

/* Adds watcher -> target. Returns a reference for unmonitor. If the target is already gone
 * (or unknown), an EXIT event with error "noproc" is posted to the watcher at once. */
uint64_t links_monitor(uint64_t watcher_pid, uint64_t target_pid, uint64_t chan);
void links_unmonitor(uint64_t target_pid, uint64_t ref);
/* Links a and pid both ways; false if pid is not running (nothing is linked then). */
bool links_link(actor *a, uint64_t pid);
void links_unlink(actor *a, uint64_t pid);
/* Called once when a ends: posts EXIT to watchers and LINK_DOWN (on abnormal ends) to links. */
void links_on_exit(actor *a);
/* Posts a CANCEL event to target. */
bool links_cancel(uint64_t from, uint64_t target_pid, const char *reason);

/* Event payload (MB_EVENT data): kind u8, from u64, reason (u32 len + bytes),
 * error kind (u32 len + bytes, len 0xffffffff = no error), result record (rest). */
typedef struct proc_event {
  int kind;
  uint64_t from;
  const char *reason; size_t reason_len;
  const char *err_kind; size_t err_kind_len; bool has_error;
  const char *result; size_t result_len;
} proc_event;
bool proc_event_decode(const char *data, size_t len, proc_event *ev);
mbox_entry *proc_event_entry(int kind, uint64_t from, uint64_t chan, const char *reason,
                             const char *err_kind, const char *result, size_t result_len);

#endif
