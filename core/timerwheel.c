/* core/timerwheel.c — the hierarchical timer wheel (see timerwheel.h).
 *
 * Invariant: a timer in slot (L, s) has expires > now, the same digits as `now` above level L,
 * and digit s > now's digit at level L. Hence every occupied slot lies ahead of `now` without
 * wrapping, the lowest occupied slot of a level is its next one, and every timer at level L
 * expires before every timer at a level above L: the lowest non-empty level holds the next
 * deadline. Advancing jumps straight to that slot's start tick, expires the timers due there
 * and re-places (cascades) the others, which land on lower levels. */
#include "core/timerwheel.h"

#define TW_WHERE_DUE (TW_LEVELS * TW_SLOTS)

/* tw_del clears a slot's occupied bit only when that slot's list is empty, which is right
 * whichever list the timer was on; so timers moved to `run` keep their stale `where`. */

static void list_init(tw_link *h) { h->next = h->prev = h; }
static bool list_empty(const tw_link *h) { return h->next == h; }

static void list_append(tw_link *h, tw_link *n) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}

static void list_unlink(tw_link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = NULL;
}

/* Moves every node of `from` to the (empty) list `to`. */
static void list_move_all(tw_link *from, tw_link *to) {
  if (list_empty(from)) return;
  to->next = from->next;
  to->prev = from->prev;
  to->next->prev = to;
  to->prev->next = to;
  list_init(from);
}

static tw_timer *timer_of(tw_link *l) { return (tw_timer *)l; /* link is the first member */ }

/* Clears the bits of x below `bits` (bits may be >= 64). */
static uint64_t high_part(uint64_t x, unsigned bits) { return bits >= 64 ? 0 : x >> bits << bits; }

/* The first tick covered by slot s of level L, given the current tick. */
static uint64_t slot_start(uint64_t now, unsigned level, unsigned s) {
  return high_part(now, TW_BITS * (level + 1)) | (uint64_t)s << (TW_BITS * level);
}

/* Puts t (t->expires > tw->now) into its wheel slot. */
static void place(timerwheel *tw, tw_timer *t) {
  unsigned level = (unsigned)(63 - __builtin_clzll(t->expires ^ tw->now)) / TW_BITS;
  unsigned s = (unsigned)(t->expires >> (TW_BITS * level)) & (TW_SLOTS - 1);
  unsigned idx = level * TW_SLOTS + s;
  t->where = idx;
  list_append(&tw->slots[idx], &t->link);
  tw->occupied[level] |= (uint64_t)1 << s;
}

void tw_init(timerwheel *tw, uint64_t now) {
  tw->now = tw->horizon = now;
  tw->count = 0;
  for (unsigned l = 0; l < TW_LEVELS; l++) tw->occupied[l] = 0;
  for (unsigned i = 0; i < TW_LEVELS * TW_SLOTS; i++) list_init(&tw->slots[i]);
  list_init(&tw->due);
  list_init(&tw->run);
}

void tw_timer_init(tw_timer *t) {
  t->link.next = t->link.prev = NULL;
  t->expires = 0;
  t->where = 0;
}

bool tw_pending(const tw_timer *t) { return t->link.next != NULL; }

size_t tw_count(const timerwheel *tw) { return tw->count; }

void tw_del(timerwheel *tw, tw_timer *t) {
  if (!tw_pending(t)) return;
  uint32_t idx = t->where;
  list_unlink(&t->link);
  tw->count--;
  if (idx < TW_WHERE_DUE && list_empty(&tw->slots[idx]))
    tw->occupied[idx / TW_SLOTS] &= ~((uint64_t)1 << (idx % TW_SLOTS));
}

void tw_add(timerwheel *tw, tw_timer *t, uint64_t expires) {
  tw_del(tw, t);
  t->expires = expires;
  tw->count++;
  if (expires <= tw->horizon) {
    t->where = TW_WHERE_DUE;
    list_append(&tw->due, &t->link);
  } else {
    place(tw, t);
  }
}

/* The lowest non-empty level, or -1. */
static int lowest_level(const timerwheel *tw) {
  for (int l = 0; l < TW_LEVELS; l++)
    if (tw->occupied[l]) return l;
  return -1;
}

int64_t tw_next_timeout(const timerwheel *tw) {
  if (!list_empty(&tw->due)) return 0;
  int l = lowest_level(tw);
  if (l < 0) return -1;
  uint64_t at = slot_start(tw->now, (unsigned)l, (unsigned)__builtin_ctzll(tw->occupied[l]));
  uint64_t d = at - tw->now;
  return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}

size_t tw_advance(timerwheel *tw, uint64_t now, void (*fire)(tw_timer *t, void *ud), void *ud) {
  if (now < tw->now) now = tw->now;
  tw->horizon = now; /* adds made by callbacks up to `now` wait for the next call */
  size_t fired = 0;
  list_move_all(&tw->due, &tw->run);
  for (;;) {
    /* Callbacks may delete timers still on `run`, so always take the head afresh. */
    while (!list_empty(&tw->run)) {
      tw_timer *t = timer_of(tw->run.next);
      list_unlink(&t->link);
      if (t->expires <= tw->now) {
        tw->count--;
        fire(t, ud);
        fired++;
      } else {
        place(tw, t);
      }
    }
    int level = lowest_level(tw);
    if (level < 0) break;
    unsigned s = (unsigned)__builtin_ctzll(tw->occupied[level]);
    uint64_t at = slot_start(tw->now, (unsigned)level, s);
    if (at > now) break;
    tw->now = at;
    unsigned idx = (unsigned)level * TW_SLOTS + s;
    list_move_all(&tw->slots[idx], &tw->run);
    tw->occupied[level] &= ~((uint64_t)1 << s);
  }
  tw->now = now;
  return fired;
}
