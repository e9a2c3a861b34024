/* core/utf8_scan.h — one-sequence UTF-8 checks for code that walks strings byte by byte while
 * it copies them (log lines, JSON encoding). Streaming validation of network input, fed in
 * chunks, is net/utf8.h. */
#ifndef WISP_UTF8_SCAN_H
#define WISP_UTF8_SCAN_H
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80, n bytes available), 0 if
 * ill-formed: no overlongs, surrogates or code points above U+10FFFF. */
size_t utf8_scan_seq(const uint8_t *p, size_t n);

#endif
