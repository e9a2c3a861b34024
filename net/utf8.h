/* net/utf8.h — incremental UTF-8 validator (RFC 3629).
 * A 9-state DFA over 12 byte classes (Höhrmann's construction, own table): it can be fed
 * chunk by chunk, a code point may be split anywhere between chunks, and it rejects at the
 * first byte that cannot start or continue a well-formed sequence: overlongs (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF), code points above U+10FFFF (F4 90.., F5..FF) and stray
 * continuation bytes. Once rejected, the state stays rejected until utf8_init. */
#ifndef WISP_NET_UTF8_H
#define WISP_NET_UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t state; /* UTF8_ACCEPT at a code point boundary, UTF8_REJECT after an error */
} utf8_state;

enum { UTF8_ACCEPT = 0, UTF8_REJECT = 1 };
enum { UTF8_OK = 0, UTF8_INVALID = -1 };

void utf8_init(utf8_state *s);
/* Feeds n bytes; UTF8_OK if they keep the stream valid so far, UTF8_INVALID at the first bad
 * byte (the rest of the chunk is not looked at). */
int utf8_feed(utf8_state *s, const uint8_t *p, size_t n);
/* Like utf8_feed, but returns how many bytes were accepted: n when all were, else the index
 * of the first bad byte (0 when the state was already rejected). */
size_t utf8_feed_prefix(utf8_state *s, const uint8_t *p, size_t n);
/* True when the stream is valid and does not end inside a code point. */
bool utf8_complete(const utf8_state *s);
/* One-shot check of a whole buffer. */
bool utf8_valid(const void *p, size_t n);

#endif
