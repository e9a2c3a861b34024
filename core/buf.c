/* core/buf.c — wbuf implementation: amortised doubling, abort on out-of-memory. */
#include "core/buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wbuf_reserve(wbuf *b, size_t extra) {
  if (b->cap - b->len >= extra) return;
  size_t need = b->len + extra, cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) { fputs("wisp: out of memory in wbuf_reserve\n", stderr); abort(); }
  b->data = p;
  b->cap = cap;
}

void wbuf_append(wbuf *b, const void *p, size_t n) {
  if (n == 0) return;
  wbuf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void wbuf_putc(wbuf *b, uint8_t c) {
  wbuf_reserve(b, 1);
  b->data[b->len++] = (char)c;
}

void wbuf_printf(wbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) { wbuf_append(b, small, (size_t)n); return; }
  wbuf_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void wbuf_consume(wbuf *b, size_t n) {
  if (n >= b->len) { b->len = 0; return; }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void wbuf_reset(wbuf *b) { b->len = 0; }

void wbuf_free(wbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *wbuf_detach(wbuf *b, size_t *len) {
  char *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
