/* net/quote.h — showing untrusted bytes (URLs, header values) inside error messages:
 * printable ASCII kept, '"' and '\' escaped, other bytes as \xNN, cut with "...". */
#ifndef WISP_NET_QUOTE_H
#define WISP_NET_QUOTE_H
#include <stddef.h>

/* Appends p[0..n) to the NUL-terminated string in out (outsz bytes in all), shown as above and
 * cut after max input bytes; never writes past outsz. */
void quote_append(char *out, size_t outsz, const char *p, size_t n, size_t max);

#endif
