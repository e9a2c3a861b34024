/* net/utf8.c — the UTF-8 DFA. Byte classes:
 *   0 00..7F  1 80..8F  2 90..9F  3 A0..BF  4 C0 C1 F5..FF  5 C2..DF
 *   6 E0      7 E1..EC EE EF      8 ED      9 F0   10 F1..F3  11 F4
 * States: 0 accept, 1 reject, 2/3/4 expect 1/2/3 more continuation bytes (80..BF),
 * 5 after E0 (A0..BF), 6 after ED (80..9F), 7 after F0 (90..BF), 8 after F4 (80..8F).
 * ASCII runs are skipped 8 bytes at a time while in the accept state. */
#include "net/utf8.h"
#include <string.h>

static const uint8_t utf8_class[256] = {
  /* 00..7F */
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  /* 80..8F, 90..9F */
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
  /* A0..BF */
  3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
  /* C0..DF */
  4,4,5,5,5,5,5,5,5,5,5,5,5,5,5,5, 5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,
  /* E0..EF */
  6,7,7,7,7,7,7,7,7,7,7,7,7,8,7,7,
  /* F0..FF */
  9,10,10,10,11,4,4,4,4,4,4,4,4,4,4,4,
};

static const uint8_t utf8_next[9][12] = {
  /*           00 80 90 A0 bad C2 E0 E1 ED F0 F1 F4 */
  /* accept */ {0, 1, 1, 1, 1, 2, 5, 3, 6, 7, 4, 8},
  /* reject */ {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
  /* need 1 */ {1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
  /* need 2 */ {1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
  /* need 3 */ {1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
  /* E0     */ {1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1},
  /* ED     */ {1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1},
  /* F0     */ {1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
  /* F4     */ {1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
};

void utf8_init(utf8_state *s) { s->state = UTF8_ACCEPT; }

size_t utf8_feed_prefix(utf8_state *s, const uint8_t *p, size_t n) {
  uint32_t st = s->state;
  if (st == UTF8_REJECT) return 0;
  size_t i = 0;
  while (i < n) {
    if (st == UTF8_ACCEPT) {
      while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & UINT64_C(0x8080808080808080)) break;
        i += 8;
      }
      while (i < n && p[i] < 0x80) i++;
      if (i == n) break;
    }
    st = utf8_next[st][utf8_class[p[i]]];
    if (st == UTF8_REJECT) {
      s->state = st;
      return i;
    }
    i++;
  }
  s->state = st;
  return n;
}

int utf8_feed(utf8_state *s, const uint8_t *p, size_t n) {
  if (s->state == UTF8_REJECT || utf8_feed_prefix(s, p, n) != n) return UTF8_INVALID;
  return UTF8_OK;
}

bool utf8_complete(const utf8_state *s) { return s->state == UTF8_ACCEPT; }

bool utf8_valid(const void *p, size_t n) {
  utf8_state s;
  utf8_init(&s);
  return utf8_feed(&s, p, n) == UTF8_OK && utf8_complete(&s);
}
