/* tests/unit/test_timerwheel.c — the timer wheel against a brute-force model: order, never
 * early, never late, deletion, re-adding from callbacks, next_timeout bounds, the far range. */
#include <stdint.h>
#include <stdlib.h>
#include "core/timerwheel.h"
#include "tests/unit/t.h"

typedef struct item {
  tw_timer t; /* first member: the test casts back */
  uint64_t want; /* expiry the model expects */
  int fired;
  int deleted;
} item;

typedef struct run_state {
  uint64_t target;    /* the tick passed to the current tw_advance */
  uint64_t last;      /* expiry of the previous fired timer */
  size_t nfired;
  int order_errors, early_errors;
} run_state;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static void fire_check(tw_timer *t, void *ud) {
  run_state *rs = ud;
  item *it = (item *)t;
  CHECK(!tw_pending(t));
  if (t->expires > rs->target) rs->early_errors++;
  if (t->expires < rs->last) rs->order_errors++;
  rs->last = t->expires;
  it->fired++;
  rs->nfired++;
}

/* Pending items must all lie beyond the wheel's tick; fired ones must not. */
static void check_model(const timerwheel *tw, item *items, size_t n) {
  size_t pending = 0;
  int late = 0, twice = 0, lost = 0;
  for (size_t i = 0; i < n; i++) {
    if (items[i].deleted) continue;
    if (items[i].fired > 1) twice++;
    if (items[i].fired == 0) {
      pending++;
      if (items[i].want <= tw->now) late++;
      if (!tw_pending(&items[i].t)) lost++;
    }
  }
  CHECK_EQ(late, 0);
  CHECK_EQ(twice, 0);
  CHECK_EQ(lost, 0);
  CHECK_EQ(tw_count(tw), pending);
}

static uint64_t random_delay(void) {
  switch (rnd() % 5) {
  case 0: return rnd() % 64;
  case 1: return rnd() % 5000;
  case 2: return rnd() % 300000;
  case 3: return rnd() % (1ull << 30);
  default: return rnd() % (1ull << 44);
  }
}

static uint64_t random_step(void) {
  switch (rnd() % 4) {
  case 0: return 1;
  case 1: return rnd() % 100;
  case 2: return rnd() % 20000;
  default: return rnd() % (1ull << 32);
  }
}

static void test_random_order(void) {
  enum { N = 5000 };
  item *items = calloc(N, sizeof *items);
  timerwheel *tw = malloc(sizeof *tw);
  uint64_t start = 123456789;
  tw_init(tw, start);
  for (size_t i = 0; i < N; i++) {
    tw_timer_init(&items[i].t);
    /* Some already overdue (those fire first, in insertion order, so give them one expiry),
     * most in the future across every level's range. */
    items[i].want = (i % 50 == 0) ? start - 7 : start + 1 + random_delay();
    tw_add(tw, &items[i].t, items[i].want);
  }
  CHECK_EQ(tw_count(tw), N);
  run_state rs = {0};
  uint64_t now = start;
  int rounds = 0;
  while (tw_count(tw) && rounds < 1000000) {
    int64_t nt = tw_next_timeout(tw);
    CHECK(nt >= 0);
    now += random_step();
    rs.target = now;
    tw_advance(tw, now, fire_check, &rs);
    check_model(tw, items, N);
    rounds++;
  }
  CHECK_EQ(rs.nfired, N);
  CHECK_EQ(rs.order_errors, 0);
  CHECK_EQ(rs.early_errors, 0);
  CHECK_EQ(tw_next_timeout(tw), -1);
  free(items);
  free(tw);
}

/* Advancing one tick at a time fires each timer at exactly its tick. */
static uint64_t exact_tick;
static int exact_errors;
static void fire_exact(tw_timer *t, void *ud) {
  if (t->expires != exact_tick) exact_errors++;
  ((item *)t)->fired++;
}

static void test_exact_ticks(void) {
  enum { N = 3000 };
  item *items = calloc(N, sizeof *items);
  timerwheel *tw = malloc(sizeof *tw);
  tw_init(tw, 1000);
  for (size_t i = 0; i < N; i++) {
    items[i].want = 1001 + rnd() % 20000;
    tw_add(tw, &items[i].t, items[i].want);
  }
  for (exact_tick = 1001; exact_tick <= 21001; exact_tick++)
    tw_advance(tw, exact_tick, fire_exact, NULL);
  CHECK_EQ(exact_errors, 0);
  int once = 0;
  for (size_t i = 0; i < N; i++) once += items[i].fired == 1;
  CHECK_EQ(once, N);
  CHECK_EQ(tw_count(tw), 0);
  free(items);
  free(tw);
}

static void test_delete(void) {
  enum { N = 4000 };
  item *items = calloc(N, sizeof *items);
  timerwheel *tw = malloc(sizeof *tw);
  tw_init(tw, 0);
  for (size_t i = 0; i < N; i++) {
    items[i].want = random_delay();
    tw_add(tw, &items[i].t, items[i].want);
  }
  size_t kept = N;
  for (size_t i = 0; i < N; i += 2) {
    tw_del(tw, &items[i].t);
    tw_del(tw, &items[i].t); /* twice is harmless */
    CHECK(!tw_pending(&items[i].t));
    items[i].deleted = 1;
    kept--;
  }
  CHECK_EQ(tw_count(tw), kept);
  /* Moving a pending timer by adding it again. */
  tw_add(tw, &items[1].t, 7);
  items[1].want = 7;
  CHECK_EQ(tw_count(tw), kept);
  run_state rs = {0};
  rs.target = UINT64_MAX;
  tw_advance(tw, UINT64_MAX, fire_check, &rs);
  CHECK_EQ(rs.nfired, kept);
  CHECK_EQ(rs.order_errors, 0);
  int deleted_fired = 0;
  for (size_t i = 0; i < N; i += 2) deleted_fired += items[i].fired;
  CHECK_EQ(deleted_fired, 0);
  CHECK_EQ(tw_count(tw), 0);
  /* The wheel is reusable after a full sweep, and deleting from an emptied slot is fine. */
  tw_del(tw, &items[1].t);
  free(items);
  free(tw);
}

/* A periodic timer re-adds itself from fire; another timer deletes a peer due in the same
 * slot; a callback re-adding at or before the tick being advanced to is deferred to the next
 * advance (so one big jump fires a periodic timer once: catching up is the caller's choice). */
typedef struct readd_ctx {
  timerwheel *tw;
  item *periodic, *victim, *killer, *eager;
  int periodic_fires, eager_fires, victim_fires;
  uint64_t target;
} readd_ctx;

static void fire_readd(tw_timer *t, void *ud) {
  readd_ctx *c = ud;
  if (t == &c->periodic->t) {
    c->periodic_fires++;
    CHECK(t->expires <= c->target);
    tw_add(c->tw, t, t->expires + 10);
  } else if (t == &c->killer->t) {
    tw_del(c->tw, &c->victim->t);
  } else if (t == &c->victim->t) {
    c->victim_fires++;
  } else if (t == &c->eager->t) {
    c->eager_fires++;
    tw_add(c->tw, t, c->target); /* due now: must wait for the next advance */
  }
}

static void test_readd_in_fire(void) {
  timerwheel *tw = malloc(sizeof *tw);
  item periodic = {0}, victim = {0}, killer = {0}, eager = {0};
  tw_init(tw, 0);
  readd_ctx c = {tw, &periodic, &victim, &killer, &eager, 0, 0, 0, 0};
  tw_add(tw, &periodic.t, 10);
  tw_add(tw, &killer.t, 500);
  tw_add(tw, &victim.t, 500); /* queued after killer in the same tick */
  tw_add(tw, &eager.t, 3);
  size_t n = 0;
  for (c.target = 1; c.target <= 1000; c.target++) n += tw_advance(tw, c.target, fire_readd, &c);
  /* periodic: 10, 20, ..., 1000 = 100 fires; killer once; eager at 3 and every later tick (998). */
  CHECK_EQ(c.periodic_fires, 100);
  CHECK_EQ(c.victim_fires, 0);
  CHECK_EQ(c.eager_fires, 998);
  CHECK_EQ(n, 100 + 1 + 998);
  CHECK(tw_pending(&eager.t));
  CHECK_EQ(tw_next_timeout(tw), 0);
  /* One jump over many periods: the periodic timer fires once, the eager one once. */
  c.target = 5000;
  n = tw_advance(tw, 5000, fire_readd, &c);
  CHECK_EQ(c.periodic_fires, 101);
  CHECK_EQ(c.eager_fires, 999);
  CHECK_EQ(n, 2);
  c.target = 5000;
  n = tw_advance(tw, 5000, fire_readd, &c);
  CHECK_EQ(c.eager_fires, 1000);
  CHECK_EQ(c.periodic_fires, 102);
  CHECK_EQ(n, 2);
  tw_del(tw, &eager.t);
  tw_del(tw, &periodic.t);
  CHECK_EQ(tw_count(tw), 0);
  free(tw);
}

static void fire_count(tw_timer *t, void *ud) { (*(size_t *)ud)++; }

/* next_timeout is never later than the true next expiry, and advancing to just before the
 * bound fires nothing. */
static void test_next_timeout_bound(void) {
  enum { N = 2000 };
  item *items = calloc(N, sizeof *items);
  timerwheel *tw = malloc(sizeof *tw);
  uint64_t now = 5;
  tw_init(tw, now);
  CHECK_EQ(tw_next_timeout(tw), -1);
  for (size_t i = 0; i < N; i++) {
    items[i].want = now + 1 + random_delay();
    tw_add(tw, &items[i].t, items[i].want);
  }
  int violations = 0, premature = 0, stalls = 0;
  while (tw_count(tw)) {
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < N; i++)
      if (tw_pending(&items[i].t) && items[i].want < min) min = items[i].want;
    int64_t nt = tw_next_timeout(tw);
    if (nt < 0 || tw->now + (uint64_t)nt > min) violations++;
    if (nt > 1) {
      size_t fired = 0;
      tw_advance(tw, tw->now + (uint64_t)nt - 1, fire_count, &fired);
      if (fired) premature++;
    }
    /* Waking exactly at the bound makes progress: the bound moves or something fires. */
    size_t fired = 0;
    uint64_t before = tw->now;
    tw_advance(tw, tw->now + (uint64_t)tw_next_timeout(tw), fire_count, &fired);
    if (!fired && tw_next_timeout(tw) == 0 && tw->now == before) stalls++;
  }
  CHECK_EQ(violations, 0);
  CHECK_EQ(premature, 0);
  CHECK_EQ(stalls, 0);
  free(items);
  free(tw);
}

/* Expiries across all 64 bits, near UINT64_MAX, and wheels started near the top. */
static void test_far_future_and_jumps(void) {
  static const uint64_t at[] = {1,
                                63,
                                64,
                                4095,
                                4096,
                                1ull << 20,
                                (1ull << 36) + 17,
                                1ull << 48,
                                (1ull << 54) - 1,
                                1ull << 60,
                                (1ull << 63) + 12345,
                                UINT64_MAX - 64,
                                UINT64_MAX - 1,
                                UINT64_MAX};
  enum { N = sizeof at / sizeof at[0] };
  item items[N];
  timerwheel *tw = malloc(sizeof *tw);
  tw_init(tw, 0);
  for (size_t i = 0; i < N; i++) {
    tw_timer_init(&items[i].t);
    items[i].fired = 0;
    tw_add(tw, &items[i].t, at[N - 1 - i]); /* reverse order */
  }
  CHECK_EQ(tw_next_timeout(tw), 1);
  run_state rs = {0};
  /* One jump into the middle, then one to the end. */
  rs.target = 1ull << 50;
  tw_advance(tw, rs.target, fire_check, &rs);
  CHECK_EQ(rs.nfired, 8);
  CHECK_EQ(tw_count(tw), N - 8);
  CHECK(tw_next_timeout(tw) > 0);
  CHECK((uint64_t)tw_next_timeout(tw) <= ((1ull << 54) - 1) - (1ull << 50));
  rs.target = UINT64_MAX;
  tw_advance(tw, UINT64_MAX, fire_check, &rs);
  CHECK_EQ(rs.nfired, N);
  CHECK_EQ(rs.order_errors, 0);
  CHECK_EQ(rs.early_errors, 0);
  CHECK_EQ(tw_count(tw), 0);

  /* A wheel whose clock starts near the top of the range. */
  tw_init(tw, UINT64_MAX - 100);
  for (size_t i = 0; i < 5; i++) tw_add(tw, &items[i].t, UINT64_MAX - 20 * i);
  CHECK_EQ(tw_next_timeout(tw), 20);
  rs = (run_state){0};
  rs.target = UINT64_MAX - 50;
  tw_advance(tw, rs.target, fire_check, &rs);
  CHECK_EQ(rs.nfired, 2);
  rs.target = UINT64_MAX;
  tw_advance(tw, UINT64_MAX, fire_check, &rs);
  CHECK_EQ(rs.nfired, 5);
  CHECK_EQ(rs.order_errors, 0);

  /* A far timer from an odd starting point does not fire a tick early after many cascades. */
  tw_init(tw, 0x0123456789ABCDEFull);
  item far = {0};
  uint64_t want = 0x0123456789ABCDEFull + 0x00F0F0F0F0F0ull;
  tw_add(tw, &far.t, want);
  size_t fired = 0;
  while (tw->now < want - 1) {
    int64_t nt = tw_next_timeout(tw);
    uint64_t step = nt > 1 ? (uint64_t)nt : 1;
    uint64_t to = tw->now + step >= want ? want - 1 : tw->now + step;
    tw_advance(tw, to, fire_count, &fired);
    CHECK_EQ(fired, 0);
    if (fired) break;
  }
  tw_advance(tw, want, fire_count, &fired);
  CHECK_EQ(fired, 1);
  /* Time never runs backwards: an earlier now is ignored. */
  tw_add(tw, &far.t, want + 5);
  tw_advance(tw, 3, fire_count, &fired);
  CHECK_EQ(tw->now, want);
  CHECK_EQ(fired, 1);
  tw_del(tw, &far.t);
  free(tw);
}

/* Add/delete stay O(1): a million cycles must be quick even under sanitizers. */
static void test_many_add_del(void) {
  enum { N = 100000 };
  item *items = calloc(N, sizeof *items);
  timerwheel *tw = malloc(sizeof *tw);
  tw_init(tw, 0);
  for (int round = 0; round < 10; round++) {
    for (size_t i = 0; i < N; i++) tw_add(tw, &items[i].t, 1 + random_delay());
    CHECK_EQ(tw_count(tw), N);
    for (size_t i = 0; i < N; i++) tw_del(tw, &items[i].t);
    CHECK_EQ(tw_count(tw), 0);
  }
  CHECK_EQ(tw_next_timeout(tw), -1);
  free(items);
  free(tw);
}

TEST_MAIN(test_random_order, test_exact_ticks, test_delete, test_readd_in_fire,
          test_next_timeout_bound, test_far_future_and_jumps, test_many_add_del)
