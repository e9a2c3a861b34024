/* core/timerwheel.h — hierarchical hashed timer wheel with intrusive nodes.
 *
 * Time is an abstract uint64 tick count that only moves forward (the net loop uses 1 tick =
 * 1 ms). The wheel has TW_LEVELS levels of 64 slots; level L slot s holds timers whose expiry
 * shares every digit above L with the wheel's current tick and has digit s at level L (digits
 * are 6 bits). Eleven levels span all 64 bits, so every uint64 expiry has a place and no
 * overflow list is needed. Add and delete are O(1); advancing visits only occupied slots, so a
 * jump of any size costs O(timers fired + cascades), and each timer cascades at most
 * TW_LEVELS - 1 times.
 *
 * A timer never fires before its expiry tick, and one advance fires timers in expiry order
 * (timers of the same tick in the order they were queued). Single-threaded: the caller owns
 * the wheel and every timer in it. */
#ifndef WISP_TIMERWHEEL_H
#define WISP_TIMERWHEEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_BITS 6
#define TW_SLOTS (1u << TW_BITS)
#define TW_LEVELS 11 /* ceil(64 / TW_BITS) */

typedef struct tw_link {
  struct tw_link *next, *prev;
} tw_link;

/* Embed in the owner's struct and recover the owner with container_of/offsetof.
 * Zero-initialise (or tw_timer_init) before first use; the wheel owns the fields. */
typedef struct tw_timer {
  tw_link link;     /* next == NULL while not pending */
  uint64_t expires; /* expiry tick, valid while pending */
  uint32_t where;   /* slot index (or the due list) it was queued on */
} tw_timer;

typedef struct timerwheel {
  uint64_t now;     /* every timer with expires <= now has fired or is in `due` */
  uint64_t horizon; /* adds with expires <= horizon go to `due`; == now outside tw_advance */
  size_t count;
  uint64_t occupied[TW_LEVELS]; /* bit s set <=> slot (level, s) is non-empty */
  tw_link slots[TW_LEVELS * TW_SLOTS];
  tw_link due; /* fire on the next advance, FIFO */
  tw_link run; /* the slot being expired by tw_advance */
} timerwheel;

void tw_init(timerwheel *tw, uint64_t now);
void tw_timer_init(tw_timer *t);
/* Schedules t at tick `expires`; a pending t is moved. expires <= now (or, from inside a fire
 * callback, <= the tick being advanced to) fires on the next tw_advance call, never the
 * current one, so a callback that re-adds its own timer cannot loop forever. */
void tw_add(timerwheel *tw, tw_timer *t, uint64_t expires);
void tw_del(timerwheel *tw, tw_timer *t); /* no-op when t is not pending */
bool tw_pending(const tw_timer *t);
/* Moves the wheel to `now` (ignored if earlier than the current tick) and fires every timer
 * pending at the call whose expiry is <= now. t is no longer pending when fire(t) runs; fire
 * may add and delete any timers, t included, but must not call tw_advance. Returns the number
 * of timers fired. */
size_t tw_advance(timerwheel *tw, uint64_t now, void (*fire)(tw_timer *t, void *ud), void *ud);
/* Ticks from now until the next tick at which tw_advance can fire or cascade: a lower bound
 * on the next expiry, never later than it. 0 when something is already due, -1 when empty,
 * INT64_MAX when farther than that. */
int64_t tw_next_timeout(const timerwheel *tw);
size_t tw_count(const timerwheel *tw);

#endif
