/* security/pattern.h — action and resource patterns of security policies.
 *
 * The only special byte is '*': it matches any run of bytes, empty included, and crosses every
 * separator (':' '/' '.'). Every other byte matches itself; there are no escapes, classes or
 * anchors. A pattern without '*' is an exact comparison; "" matches only "". A compiled pattern
 * is immutable, so any number of threads may match against it at once. Matching is
 * O(len(pattern) * len(subject)) at worst and never backtracks beyond that. */
#ifndef WISP_SECURITY_PATTERN_H
#define WISP_SECURITY_PATTERN_H
#include <stdbool.h>
#include <stddef.h>

typedef struct sec_pattern sec_pattern;

/* Compiles src[0..len) (any bytes). Returns NULL only when out of memory. */
sec_pattern *sec_pattern_compile(const char *src, size_t len);
void sec_pattern_free(sec_pattern *p);

/* True when the whole of s[0..len) matches p. */
bool sec_pattern_match(const sec_pattern *p, const char *s, size_t len);

/* The source text, NUL-terminated (a source holding NUL bytes reads short here). */
const char *sec_pattern_source(const sec_pattern *p);

#endif
