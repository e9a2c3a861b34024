/* core/metrics.c — see metrics.h. Families and series are kept in insertion order in linked
 * lists under one mutex; rendering walks them under the same mutex. */
#include "core/metrics.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 4

typedef struct series {
  metric_series s;
  struct series *next;
  int nlabels;
  char *keys[MAX_LABELS], *values[MAX_LABELS];
} series;

typedef struct family {
  struct family *next;
  char *name, *help;
  int type;
  series *first, *last;
  metric_sampler sampler;
  metric_writer writer;
  void *ud;
} family;

static family *families, *families_last;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static family *find_family(const char *name, const char *help, int type) {
  for (family *f = families; f; f = f->next)
    if (strcmp(f->name, name) == 0) return f;
  family *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->name = strdup(name);
  f->help = strdup(help ? help : "");
  f->type = type;
  if (families_last) families_last->next = f;
  else families = f;
  families_last = f;
  return f;
}

metric_series *metrics_series(const char *name, const char *help, int type, ...) {
  const char *keys[MAX_LABELS], *values[MAX_LABELS];
  int n = 0;
  va_list ap;
  va_start(ap, type);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    if (n < MAX_LABELS) {
      keys[n] = k;
      values[n] = v ? v : "";
      n++;
    }
  }
  va_end(ap);
  pthread_mutex_lock(&mu);
  family *f = find_family(name, help, type);
  series *found = NULL;
  for (series *s = f->first; s && !found; s = s->next) {
    if (s->nlabels != n) continue;
    bool same = true;
    for (int i = 0; i < n && same; i++) same = !strcmp(s->keys[i], keys[i]) && !strcmp(s->values[i], values[i]);
    if (same) found = s;
  }
  if (!found) {
    found = calloc(1, sizeof *found);
    if (!found) abort();
    found->nlabels = n;
    for (int i = 0; i < n; i++) {
      found->keys[i] = strdup(keys[i]);
      found->values[i] = strdup(values[i]);
    }
    if (f->last) f->last->next = found;
    else f->first = found;
    f->last = found;
  }
  pthread_mutex_unlock(&mu);
  return &found->s;
}

void metrics_sampled(const char *name, const char *help, int type, metric_sampler fn, void *ud) {
  pthread_mutex_lock(&mu);
  family *f = find_family(name, help, type);
  f->sampler = fn;
  f->ud = ud;
  pthread_mutex_unlock(&mu);
}

void metrics_custom(const char *name, const char *help, int type, metric_writer fn, void *ud) {
  pthread_mutex_lock(&mu);
  family *f = find_family(name, help, type);
  f->writer = fn;
  f->ud = ud;
  pthread_mutex_unlock(&mu);
}

/* Label values escape backslash, double quote and newline; help escapes backslash and newline. */
static void put_escaped(wbuf *out, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\') wbuf_append(out, "\\\\", 2);
    else if (*s == '\n') wbuf_append(out, "\\n", 2);
    else if (*s == '"' && quote) wbuf_append(out, "\\\"", 2);
    else wbuf_putc(out, (uint8_t)*s);
  }
}

void metrics_render(wbuf *out) {
  pthread_mutex_lock(&mu);
  for (family *f = families; f; f = f->next) {
    wbuf_printf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    wbuf_printf(out, "\n# TYPE %s %s\n", f->name, f->type == METRIC_COUNTER ? "counter" : "gauge");
    if (f->sampler) {
      wbuf_printf(out, "%s %lld\n", f->name, (long long)f->sampler(f->ud));
      continue;
    }
    if (f->writer) {
      f->writer(out, f->name, f->ud);
      continue;
    }
    for (series *s = f->first; s; s = s->next) {
      wbuf_append(out, f->name, strlen(f->name));
      if (s->nlabels) {
        wbuf_putc(out, '{');
        for (int i = 0; i < s->nlabels; i++) {
          wbuf_printf(out, "%s%s=\"", i ? "," : "", s->keys[i]);
          put_escaped(out, s->values[i], true);
          wbuf_putc(out, '"');
        }
        wbuf_putc(out, '}');
      }
      wbuf_printf(out, " %lld\n", (long long)atomic_load_explicit(&s->s.value, memory_order_relaxed));
    }
  }
  pthread_mutex_unlock(&mu);
}

void metrics_put_series(wbuf *out, const char *name, const char *label, const char *value, int64_t v) {
  wbuf_append(out, name, strlen(name));
  if (label) {
    wbuf_printf(out, "{%s=\"", label);
    put_escaped(out, value ? value : "", true);
    wbuf_putc(out, '"');
    wbuf_putc(out, '}');
  }
  wbuf_printf(out, " %lld\n", (long long)v);
}
