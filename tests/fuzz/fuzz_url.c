/* tests/fuzz/fuzz_url.c — the URL parser on arbitrary bytes. Accepted URLs must normalise
 * idempotently (the normalised form parses to itself with identical parts) and be safe to put
 * in a request line; rejected ones must come with an untruncated message.
 * Input: byte 0 bit 0 = URL_PROXY, rest = the URL. */
#include <stdlib.h>
#include <string.h>
#include "net/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned flags = data[0] & 1 ? URL_PROXY : 0;
  size_t n = size - 1;
  char *s = malloc(n ? n : 1);
  memcpy(s, data + 1, n);
  url_parts u, v;
  char err[URL_ERR_MAX];
  if (url_parse(&u, s, n, flags, err, sizeof err) != 0) {
    if (u.mem || err[0] == 0 || strlen(err) >= sizeof err - 1) abort();
    free(s);
    return 0;
  }
  printable(u.normalized);
  printable(u.target);
  printable(u.authority);
  printable(u.host);
  if (u.target[0] != '/' || u.port == 0 || u.host[0] == 0) abort();
  if (strncmp(u.normalized, u.scheme, strlen(u.scheme)) != 0) abort();
  if (u.tls != (strcmp(u.scheme, "wss") == 0)) abort();
  if (!flags && (u.user || u.password)) abort();
  if (strchr(u.normalized, '@') && strchr(u.normalized, '@') < u.normalized + strlen(u.scheme) + 3 +
                                                                  strlen(u.authority))
    abort(); /* no user info in the normalised form */
  if (url_parse(&v, u.normalized, strlen(u.normalized), flags, err, sizeof err) != 0) abort();
  if (strcmp(u.normalized, v.normalized) || strcmp(u.host, v.host) ||
      strcmp(u.target, v.target) || strcmp(u.authority, v.authority) || u.port != v.port ||
      u.tls != v.tls || u.host_kind != v.host_kind)
    abort();
  url_free(&v);
  url_free(&u);

  /* dot-segment removal: never longer, result has no dot segments (so it is a fixed point) */
  char *in = malloc(n + 1), *out = malloc(n + 1), *out2 = malloc(n + 1);
  in[0] = '/';
  memcpy(in + 1, s, n);
  size_t o = url_remove_dot_segments(out, in, n + 1);
  if (o == 0 || o > n + 1 || out[0] != '/') abort();
  size_t o2 = url_remove_dot_segments(out2, out, o);
  if (o2 != o || memcmp(out, out2, o) != 0) abort();
  free(in);
  free(out);
  free(out2);
  free(s);
  return 0;
}
