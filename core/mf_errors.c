/* core/mf_errors.c — the manifest problem list: bounded (MF_ERRORS_MAX kept, the rest counted),
 * sorted by file, line, column and discovery order, printed one line per problem. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/manifest.h"

void mf_errors_init(mf_errors *e) { memset(e, 0, sizeof *e); }

void mf_errors_free(mf_errors *e) {
  for (size_t i = 0; i < e->n; i++) {
    free(e->v[i].file);
    free(e->v[i].entry);
    free(e->v[i].msg);
  }
  free(e->v);
  memset(e, 0, sizeof *e);
}

size_t mf_errors_count(const mf_errors *e) { return e->n + e->dropped; }

void mf_errors_add(mf_errors *e, const char *file, int line, int col, const char *entry,
                   const char *fmt, ...) {
  if (e->n >= MF_ERRORS_MAX) {
    e->dropped++;
    return;
  }
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 16;
    mf_error *v = realloc(e->v, cap * sizeof *v);
    if (!v) {
      e->dropped++;
      return;
    }
    e->v = v;
    e->cap = cap;
  }
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  mf_error *x = &e->v[e->n];
  x->file = strdup(file ? file : "");
  x->entry = entry ? strdup(entry) : NULL;
  x->msg = strdup(buf);
  x->line = line > 0 ? line : 0;
  x->col = line > 0 && col > 0 ? col : 0;
  x->seq = e->n + e->dropped;
  if (!x->file || !x->msg || (entry && !x->entry)) {
    free(x->file);
    free(x->entry);
    free(x->msg);
    e->dropped++;
    return;
  }
  e->n++;
}

static int cmp_error(const void *pa, const void *pb) {
  const mf_error *a = pa, *b = pb;
  int c = strcmp(a->file, b->file);
  if (c) return c;
  if (a->line != b->line) return a->line < b->line ? -1 : 1;
  if (a->col != b->col) return a->col < b->col ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void mf_errors_sort(mf_errors *e) {
  if (e->n > 1) qsort(e->v, e->n, sizeof *e->v, cmp_error);
}

void mf_errors_print(mf_errors *e, FILE *out) {
  mf_errors_sort(e);
  for (size_t i = 0; i < e->n; i++) {
    const mf_error *x = &e->v[i];
    if (x->line > 0 && x->col > 0) fprintf(out, "%s:%d:%d: ", x->file, x->line, x->col);
    else if (x->line > 0) fprintf(out, "%s:%d: ", x->file, x->line);
    else fprintf(out, "%s: ", x->file);
    if (x->entry) fprintf(out, "entry %s: ", x->entry);
    fprintf(out, "%s\n", x->msg);
  }
  if (e->dropped)
    fprintf(out, "... and %zu more problem%s\n", e->dropped, e->dropped == 1 ? "" : "s");
}
