/* net/netloop.h — the net thread (DESIGN.md "Net thread"): one event loop that owns every
 * socket and the timer wheel, never runs Lua and never blocks. Other threads talk to it only
 * through these calls, which queue commands; results come back as mailbox entries.
 *
 * Backend: io_uring, unless WISP_IO_BACKEND=epoll or the ring cannot be set up (then epoll,
 * with one line on stderr per process). WISP_IO_BACKEND=io_uring makes a failing ring an error.
 *
 * Timers have 1 ms resolution and never fire early: a deadline is rounded up to the next
 * millisecond of the monotonic clock. Expiry posts
 *   mbox_entry_new(MB_TIMER, chan_id, timer_id, &fire_unix_ns, sizeof(int64_t))
 * to the timer's mailbox. Posting runs the mailbox's notify hook, and a final release its
 * destroy hook, on the net thread: both must be quick and must not block. */
#ifndef WISP_NET_NETLOOP_H
#define WISP_NET_NETLOOP_H
#include <stdbool.h>
#include <stdint.h>
#include "core/mailbox.h"
#include "core/mpsc.h"
#include "core/timerwheel.h"
#include "net/backend.h"

/* Starts the net thread. 0 on success; -1 with a message on stderr (bad WISP_IO_BACKEND,
 * forced io_uring unavailable, already running, out of resources). net_start and net_stop are
 * called by one controlling thread (main), never from the net thread's own callbacks. */
int net_start(void);
/* Stops and joins the net thread; every pending timer's mailbox reference is released.
 * While the thread is not running (before start, once stop has begun) net_timer_start and
 * net_timer_stop do nothing and keep no reference. */
void net_stop(void);
/* "io_uring" or "epoll" while running, "none" otherwise. */
const char *net_backend_name(void);
/* Process-unique non-zero id for timers and connections. Any thread, any time. */
uint64_t net_new_id(void);

/* Arms timer `timer_id` (from net_new_id) for mailbox mb, retaining mb until the timer is
 * over. First expiry after delay_ns (<= 0: at once). period_ns > 0 makes a ticker: after each
 * expiry it re-arms at the next multiple of the period, counted from the first expiry, that
 * lies after now; ticks missed while the loop was busy are skipped, never bursted. A one-shot
 * timer releases mb after posting. A post that fails (mailbox closed) ends the timer and
 * releases mb. Starting an id that is already armed replaces it. */
void net_timer_start(uint64_t timer_id, mailbox *mb, uint64_t chan_id, int64_t delay_ns,
                     int64_t period_ns);
/* Disarms timer_id and releases its mailbox; no-op when unknown or already over. An expiry
 * posted before the stop was processed may still be in the mailbox. */
void net_timer_stop(uint64_t timer_id);

/* ---- services for the connection modules of net/ (ws_conn.c, dns.c) ----
 *
 * net_call is how another thread hands work to the loop: embed it first in a heap object, set
 * fn, submit. fn runs on the net thread, in command order with everything else submitted, and
 * owns the object from then on. False (object untouched, fn never runs) when the net thread is
 * not running. kind and id are the loop's own. */
typedef struct net_call {
  mpsc_node node;
  int kind;
  uint64_t id;
  void (*fn)(struct net_call *c);
} net_call;
bool net_call_submit(net_call *c);

/* Everything below: net thread only (inside fn of a net_call or a callback the loop runs). */
nb_backend *net_loop_backend(void);
/* The monotonic clock as read at the start of the current loop turn. */
int64_t net_loop_now(void);

/* A deadline on the loop's wheel (1 ms ticks, never early): fn runs once on the net thread
 * when mono_ns has passed. Zero-initialise before first use; setting a pending deadline moves
 * it. Deadlines are not reference counted: cancel one before freeing its owner. */
typedef struct net_deadline {
  tw_timer tw;
  void (*fn)(struct net_deadline *d);
} net_deadline;
void net_deadline_set(net_deadline *d, int64_t mono_ns);
void net_deadline_cancel(net_deadline *d);
static inline bool net_deadline_pending(const net_deadline *d) { return tw_pending(&d->tw); }

/* Work for the end of the turn: fn runs once, on the net thread, after this turn's commands,
 * completions and expiries and before the loop sleeps (write batching: many sends, one
 * gathered write). Deferring an already queued item does nothing. Zero-initialise; cancel
 * before freeing the owner. */
typedef struct net_defer {
  struct net_defer *next, *prev; /* NULL while not queued */
  void (*fn)(struct net_defer *d);
} net_defer;
void net_defer_run(net_defer *d);
void net_defer_cancel(net_defer *d);

/* fn runs once when the current loop run ends (net_stop), after the backend is closed: every
 * op of it is gone without a callback, so the module frees what its ops referenced. At most
 * NET_STOP_HOOKS distinct functions; registering one twice is a no-op. */
#define NET_STOP_HOOKS 4
void net_on_stop(void (*fn)(void));

#endif
