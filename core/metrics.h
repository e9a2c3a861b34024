/* core/metrics.h — process-wide metrics in the Prometheus text format. A metric is a family
 * (name, help, type) and a set of label values; each (family, labels) pair is one series,
 * created on first use and never freed (series are few: per entry id, per stage, per state).
 * Hot paths keep the series pointer and update it with one relaxed atomic operation; looking a
 * series up takes a mutex. Gauges computed on demand (run-queue length, actors alive) are
 * registered as callbacks sampled at render time. */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/buf.h"

typedef struct metric_series {
  _Atomic int64_t value;
} metric_series;

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

/* The series of family `name` with the given label pairs ("key", "value", ..., NULL); the
 * family is created with help and type on first use. Never NULL. */
metric_series *metrics_series(const char *name, const char *help, int type, ...) __attribute__((sentinel));

static inline void metric_add(metric_series *s, int64_t v) {
  atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}
static inline void metric_set(metric_series *s, int64_t v) {
  atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

/* A family whose one value is sampled when the metrics are rendered. */
typedef int64_t (*metric_sampler)(void *ud);
void metrics_sampled(const char *name, const char *help, int type, metric_sampler fn, void *ud);
/* A family whose series are written by fn at render time: fn appends lines
 * `name{labels} value\n` (use metrics_put_series). */
typedef void (*metric_writer)(wbuf *out, const char *name, void *ud);
void metrics_custom(const char *name, const char *help, int type, metric_writer fn, void *ud);
void metrics_put_series(wbuf *out, const char *name, const char *label, const char *value, int64_t v);

/* Appends every family in the Prometheus text exposition format (version 0.0.4). */
void metrics_render(wbuf *out);

#endif
