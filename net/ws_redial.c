/* net/ws_redial.c — reconnect back-off and redirect targets (rules in net/ws_redial.h). */
#include "net/ws_redial.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"

int64_t ws_backoff_delay(const ws_backoff *b, unsigned n, double u) {
  if (n < 1) n = 1;
  double d = (double)b->initial_ns * pow(b->factor, (double)(n - 1));
  if (!(d <= (double)b->max_ns)) d = (double)b->max_ns; /* also catches inf and NaN */
  d *= 1.0 + b->jitter * (2.0 * u - 1.0);
  if (!(d > 0)) return 0;
  double cap = (double)b->max_ns * (1.0 + b->jitter);
  if (d > cap) d = cap;
  if (d >= 9.2e18) return INT64_MAX;
  return (int64_t)d;
}

/* A URI scheme (RFC 3986 §3.1) followed by ':' at the start of s[0..len)? */
static bool has_scheme(const char *s, size_t len) {
  size_t i = 0;
  if (!len || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (i = 1; i < len; i++) {
    char c = s[i];
    if (c == ':') return true;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '-' || c == '.'))
      return false;
  }
  return false;
}

char *ws_redirect_url(const url_parts *base, const char *loc, size_t len) {
  const char *hash = memchr(loc, '#', len);
  if (hash) len = (size_t)(hash - loc);
  while (len && (loc[0] == ' ' || loc[0] == '\t')) loc++, len--;
  while (len && (loc[len - 1] == ' ' || loc[len - 1] == '\t')) len--;
  wbuf b = WBUF_INIT;
  if (has_scheme(loc, len)) {
    wbuf_append(&b, loc, len);
  } else if (len >= 2 && loc[0] == '/' && loc[1] == '/') {
    wbuf_printf(&b, "%s:", base->scheme);
    wbuf_append(&b, loc, len);
  } else {
    wbuf_printf(&b, "%s://%s", base->scheme, base->authority);
    const char *t = base->target, *q = strchr(t, '?');
    size_t path_len = q ? (size_t)(q - t) : strlen(t);
    if (len && loc[0] == '/') {
      wbuf_append(&b, loc, len);
    } else if (!len) {
      wbuf_append(&b, t, strlen(t));
    } else if (loc[0] == '?') {
      wbuf_append(&b, t, path_len);
      wbuf_append(&b, loc, len);
    } else { /* merge: the base path up to its last '/' (it always starts with one) */
      const char *slash = t;
      for (size_t i = 0; i < path_len; i++)
        if (t[i] == '/') slash = t + i;
      wbuf_append(&b, t, (size_t)(slash - t) + 1);
      wbuf_append(&b, loc, len);
    }
  }
  wbuf_putc(&b, 0);
  return b.data;
}
