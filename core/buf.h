/* core/buf.h — wbuf, a growable byte buffer (think sds without the header trick).
 * Invariant: data is NULL iff cap == 0; len <= cap. Allocation failure aborts: buffers hold
 * runtime-owned bytes (frames, encoded values) whose size is bounded by the callers' limits. */
#ifndef WISP_BUF_H
#define WISP_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct wbuf {
  char *data;
  size_t len, cap;
} wbuf;

#define WBUF_INIT {NULL, 0, 0}

void wbuf_reserve(wbuf *b, size_t extra);          /* ensures cap >= len + extra */
void wbuf_append(wbuf *b, const void *p, size_t n);
void wbuf_putc(wbuf *b, uint8_t c);
void wbuf_printf(wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wbuf_consume(wbuf *b, size_t n);              /* drops n bytes from the front */
void wbuf_reset(wbuf *b);                          /* len = 0, keeps the memory */
void wbuf_free(wbuf *b);
char *wbuf_detach(wbuf *b, size_t *len);           /* hands the memory to the caller */

#endif
