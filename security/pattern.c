/* security/pattern.c — '*' glob patterns (pattern.h).
 *
 * Compilation splits the source at each run of stars into literal pieces: with k runs there are
 * k + 1 pieces (possibly empty). Without a star the pattern is an exact comparison. Otherwise
 * the first piece must be a prefix, the last a suffix, and the middle pieces must occur in
 * order, without overlap, in what lies between. Taking the leftmost occurrence of each middle
 * piece is optimal (an earlier end leaves more room for the rest), so one left-to-right pass of
 * memmem decides the match: no backtracking, no allocation while matching. */
#include "security/pattern.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sec_piece {
  size_t off, len; /* into src */
} sec_piece;

struct sec_pattern {
  char *src;       /* NUL-terminated copy of the source */
  size_t src_len;
  size_t min_len;  /* sum of the piece lengths: shorter subjects never match */
  size_t npieces;  /* 1 = no star (exact) */
  sec_piece pieces[];
};

sec_pattern *sec_pattern_compile(const char *src, size_t len) {
  size_t runs = 0;
  for (size_t i = 0; i < len; i++)
    if (src[i] == '*' && (i == 0 || src[i - 1] != '*')) runs++;
  sec_pattern *p = malloc(sizeof *p + (runs + 1) * sizeof(sec_piece));
  if (!p) return NULL;
  p->src = malloc(len + 1);
  if (!p->src) {
    free(p);
    return NULL;
  }
  if (len) memcpy(p->src, src, len);
  p->src[len] = '\0';
  p->src_len = len;
  p->npieces = 0;
  p->min_len = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && src[i] != '*') continue;
    if (i < len && i > 0 && src[i - 1] == '*') {
      start = i + 1; /* a further star of the same run */
      continue;
    }
    p->pieces[p->npieces].off = start;
    p->pieces[p->npieces].len = i - start;
    p->min_len += i - start;
    p->npieces++;
    start = i + 1;
  }
  return p;
}

void sec_pattern_free(sec_pattern *p) {
  if (!p) return;
  free(p->src);
  free(p);
}

const char *sec_pattern_source(const sec_pattern *p) { return p->src; }

bool sec_pattern_match(const sec_pattern *p, const char *s, size_t len) {
  const sec_piece *pc = p->pieces;
  if (p->npieces == 1) return len == pc[0].len && (len == 0 || memcmp(s, p->src, len) == 0);
  if (len < p->min_len) return false;
  const sec_piece *first = &pc[0], *last = &pc[p->npieces - 1];
  if (first->len && memcmp(s, p->src + first->off, first->len) != 0) return false;
  if (last->len && memcmp(s + len - last->len, p->src + last->off, last->len) != 0) return false;
  const char *at = s + first->len, *end = s + len - last->len;
  for (size_t i = 1; i + 1 < p->npieces; i++) {
    size_t n = pc[i].len;
    if (n == 0) continue;
    if ((size_t)(end - at) < n) return false;
    const char *hit = memmem(at, (size_t)(end - at), p->src + pc[i].off, n);
    if (!hit) return false;
    at = hit + n;
  }
  return true;
}
