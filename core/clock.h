/* core/clock.h — the two clocks of the runtime, as int64 nanoseconds. Monotonic time drives
 * deadlines and the timer wheel; Unix (wall-clock) time is only ever reported to Lua. */
#ifndef WISP_CLOCK_H
#define WISP_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t clock_ns_of(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Nanoseconds since an arbitrary fixed point (boot); never goes backwards. */
static inline int64_t clock_mono_ns(void) { return clock_ns_of(CLOCK_MONOTONIC); }

/* Nanoseconds since 1970-01-01 UTC; may jump when the system clock is set. */
static inline int64_t clock_unix_ns(void) { return clock_ns_of(CLOCK_REALTIME); }

#endif
