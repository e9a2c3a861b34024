/* tests/unit/test_utf8.c — the incremental UTF-8 validator: Markus Kuhn's stress cases split
 * at every position, exact fail-fast positions, exhaustive agreement with a reference decoder
 * over all 1-3 byte strings and the 4-byte boundaries, and the ASCII fast path. */
#include <stdlib.h>
#include "net/utf8.h"
#include "tests/unit/t.h"

/* Straightforward RFC 3629 decoder. */
static bool ref_valid(const uint8_t *s, size_t n) {
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/* Index of the byte at which byte-by-byte feeding fails, or -1. */
static long fail_index(const uint8_t *s, size_t n) {
  utf8_state st;
  utf8_init(&st);
  for (size_t i = 0; i < n; i++)
    if (utf8_feed(&st, s + i, 1) != UTF8_OK) return (long)i;
  return -1;
}

typedef struct {
  const char *name;
  const char *bytes;
  size_t len;
  int expect; /* 1 valid, 0 truncated (no bad byte, but incomplete), -1 invalid */
  long fail_at;
} kuhn_case;

#define K(name, lit, expect, at) {name, lit, sizeof lit - 1, expect, at}

static const kuhn_case kuhn[] = {
  K("1 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1, -1),
  K("2.1.1 U+0000", "\x00", 1, -1),
  K("2.1.2 U+0080", "\xc2\x80", 1, -1),
  K("2.1.3 U+0800", "\xe0\xa0\x80", 1, -1),
  K("2.1.4 U+10000", "\xf0\x90\x80\x80", 1, -1),
  K("2.1.5 5-byte", "\xf8\x88\x80\x80\x80", -1, 0),
  K("2.1.6 6-byte", "\xfc\x84\x80\x80\x80\x80", -1, 0),
  K("2.2.1 U+007F", "\x7f", 1, -1),
  K("2.2.2 U+07FF", "\xdf\xbf", 1, -1),
  K("2.2.3 U+FFFF", "\xef\xbf\xbf", 1, -1),
  K("2.2.4 U+1FFFFF", "\xf7\xbf\xbf\xbf", -1, 0),
  K("2.3.1 U+D7FF", "\xed\x9f\xbf", 1, -1),
  K("2.3.2 U+E000", "\xee\x80\x80", 1, -1),
  K("2.3.3 U+FFFD", "\xef\xbf\xbd", 1, -1),
  K("2.3.4 U+10FFFF", "\xf4\x8f\xbf\xbf", 1, -1),
  K("2.3.5 U+110000", "\xf4\x90\x80\x80", -1, 1),
  K("3.1.1 first continuation", "\x80", -1, 0),
  K("3.1.2 last continuation", "\xbf", -1, 0),
  K("3.1.3 2 continuations", "\x80\xbf", -1, 0),
  K("3.1.x after valid", "a\xc3\xa9\x80", -1, 3),
  K("3.2.1 lonely 2-byte start", "\xc0\x20", -1, 0),
  K("3.2.1b lonely C2", "\xc2\x20", -1, 1),
  K("3.2.2 lonely 3-byte start", "\xe1\x20", -1, 1),
  K("3.2.3 lonely 4-byte start", "\xf1\x20", -1, 1),
  K("3.3.1 2-byte missing last", "\xc2", 0, -1),
  K("3.3.2 3-byte missing last", "\xe0\xa0", 0, -1),
  K("3.3.3 4-byte missing last", "\xf0\x90\x80", 0, -1),
  K("3.3.x truncated then ASCII", "\xe0\xa0" "a", -1, 2),
  K("3.4 concatenated incomplete", "\xc2\xe0\xa0\xf0\x90\x80", -1, 1),
  K("3.5.1 FE", "\xfe", -1, 0),
  K("3.5.2 FF", "\xff", -1, 0),
  K("3.5.3 FE FE FF FF", "\xfe\xfe\xff\xff", -1, 0),
  K("4.1.1 overlong / 2", "\xc0\xaf", -1, 0),
  K("4.1.2 overlong / 3", "\xe0\x80\xaf", -1, 1),
  K("4.1.3 overlong / 4", "\xf0\x80\x80\xaf", -1, 1),
  K("4.1.4 overlong / 5", "\xf8\x80\x80\x80\xaf", -1, 0),
  K("4.2.1 max overlong 2", "\xc1\xbf", -1, 0),
  K("4.2.2 max overlong 3", "\xe0\x9f\xbf", -1, 1),
  K("4.2.3 max overlong 4", "\xf0\x8f\xbf\xbf", -1, 1),
  K("4.3.1 overlong NUL 2", "\xc0\x80", -1, 0),
  K("4.3.2 overlong NUL 3", "\xe0\x80\x80", -1, 1),
  K("4.3.3 overlong NUL 4", "\xf0\x80\x80\x80", -1, 1),
  K("5.1.1 U+D800", "\xed\xa0\x80", -1, 1),
  K("5.1.2 U+DB7F", "\xed\xad\xbf", -1, 1),
  K("5.1.5 U+DC00", "\xed\xb0\x80", -1, 1),
  K("5.1.7 U+DFFF", "\xed\xbf\xbf", -1, 1),
  K("5.2.1 paired", "\xed\xa0\x80\xed\xb0\x80", -1, 1),
  K("5.3.1 U+FFFE", "\xef\xbf\xbe", 1, -1),
  K("5.3.2 U+FDD0", "\xef\xb7\x90", 1, -1),
  K("autobahn 6.3.1", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69"
                      "\x74\x65\x64", -1, 12),
  K("autobahn 6.4.1", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64"
                      "\x69\x74\x65\x64", -1, 12),
};

static void check_case(const kuhn_case *k) {
  const uint8_t *s = (const uint8_t *)k->bytes;
  size_t n = k->len;
  bool ok = k->expect == 1;
  if (utf8_valid(s, n) != ok) fprintf(stderr, "case %s\n", k->name);
  CHECK(utf8_valid(s, n) == ok);
  CHECK(ref_valid(s, n) == ok);
  CHECK_EQ(fail_index(s, n), k->fail_at);
  /* every pair of split points gives the same answer as the whole buffer */
  for (size_t i = 0; i <= n; i++)
    for (size_t j = i; j <= n; j++) {
      utf8_state st;
      utf8_init(&st);
      int r = utf8_feed(&st, s, i);
      if (r == UTF8_OK) r = utf8_feed(&st, s + i, j - i);
      if (r == UTF8_OK) r = utf8_feed(&st, s + j, n - j);
      CHECK_EQ(r == UTF8_OK, k->expect >= 0);
      CHECK_EQ(r == UTF8_OK && utf8_complete(&st), ok);
    }
}

static void test_kuhn(void) {
  for (size_t i = 0; i < sizeof kuhn / sizeof kuhn[0]; i++) check_case(&kuhn[i]);
}

static void test_reject_is_sticky(void) {
  utf8_state st;
  utf8_init(&st);
  CHECK_EQ(utf8_feed(&st, (const uint8_t *)"\xff", 1), UTF8_INVALID);
  CHECK_EQ(utf8_feed(&st, (const uint8_t *)"abc", 3), UTF8_INVALID);
  CHECK_EQ(utf8_feed(&st, NULL, 0), UTF8_INVALID);
  CHECK(!utf8_complete(&st));
  utf8_init(&st);
  CHECK_EQ(utf8_feed(&st, (const uint8_t *)"abc", 3), UTF8_OK);
  CHECK(utf8_complete(&st));
  CHECK(utf8_valid("", 0));
}

/* Every string of 1 to 3 bytes, against the reference decoder. */
static void test_exhaustive_short(void) {
  long mismatches = 0;
  uint8_t s[3];
  for (int a = 0; a < 256; a++) {
    s[0] = (uint8_t)a;
    mismatches += utf8_valid(s, 1) != ref_valid(s, 1);
    for (int b = 0; b < 256; b++) {
      s[1] = (uint8_t)b;
      mismatches += utf8_valid(s, 2) != ref_valid(s, 2);
      for (int c = 0; c < 256; c++) {
        s[2] = (uint8_t)c;
        mismatches += utf8_valid(s, 3) != ref_valid(s, 3);
      }
    }
  }
  CHECK_EQ(mismatches, 0);
}

/* 4-byte strings: every lead and second byte, boundary values for the rest. */
static void test_exhaustive_four(void) {
  static const uint8_t edge[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F,
                                 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF};
  long mismatches = 0;
  uint8_t s[4];
  for (int a = 0; a < 256; a++)
    for (int b = 0; b < 256; b++)
      for (size_t c = 0; c < sizeof edge; c++)
        for (size_t d = 0; d < sizeof edge; d++) {
          s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = edge[c], s[3] = edge[d];
          mismatches += utf8_valid(s, 4) != ref_valid(s, 4);
        }
  CHECK_EQ(mismatches, 0);
}

/* Fail fast is exact: a prefix the DFA accepts can always be completed to valid UTF-8. */
static bool completable(uint8_t *s, size_t n, int depth) {
  if (ref_valid(s, n)) return true;
  if (depth == 0) return false;
  for (int c = 0x80; c <= 0xBF; c++) {
    s[n] = (uint8_t)c;
    if (completable(s, n + 1, depth - 1)) return true;
  }
  return false;
}

static void test_prefixes_completable(void) {
  uint8_t s[8];
  long bad = 0;
  for (int a = 0; a < 256; a++)
    for (int b = -1; b < 256; b++) {
      size_t n = b < 0 ? 1 : 2;
      s[0] = (uint8_t)a;
      s[1] = (uint8_t)b;
      utf8_state st;
      utf8_init(&st);
      if (utf8_feed(&st, s, n) != UTF8_OK) continue;
      if (!completable(s, n, 3)) bad++;
    }
  CHECK_EQ(bad, 0);
}

static void test_ascii_fast_path(void) {
  uint8_t buf[80];
  for (size_t len = 1; len <= sizeof buf; len++) {
    memset(buf, 'a', len);
    CHECK(utf8_valid(buf, len));
    for (size_t bad = 0; bad < len; bad++) {
      buf[bad] = 0x80;
      CHECK_EQ(fail_index(buf, len), (long)bad);
      CHECK(!utf8_valid(buf, len));
      buf[bad] = 'a';
    }
  }
  /* a 2-byte character at every offset of an ASCII run, and split across chunks */
  for (size_t off = 0; off + 2 <= sizeof buf; off++) {
    memset(buf, 'x', sizeof buf);
    buf[off] = 0xC3;
    buf[off + 1] = 0xA9;
    CHECK(utf8_valid(buf, sizeof buf));
    utf8_state st;
    utf8_init(&st);
    CHECK_EQ(utf8_feed(&st, buf, off + 1), UTF8_OK);
    CHECK(!utf8_complete(&st));
    CHECK_EQ(utf8_feed(&st, buf + off + 1, sizeof buf - off - 1), UTF8_OK);
    CHECK(utf8_complete(&st));
  }
}

/* Random text of mixed widths, fed in random chunks; then single-byte corruptions. */
static void test_random_text(void) {
  srand(12345);
  static const uint32_t ranges[][2] = {
      {0x20, 0x7E}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
  uint8_t buf[512];
  for (int round = 0; round < 2000; round++) {
    size_t n = 0;
    while (n + 4 <= sizeof buf && rand() % 64) {
      const uint32_t *r = ranges[rand() % 5];
      uint32_t cp = r[0] + (uint32_t)rand() % (r[1] - r[0] + 1);
      if (cp < 0x80) {
        buf[n++] = (uint8_t)cp;
      } else if (cp < 0x800) {
        buf[n++] = (uint8_t)(0xC0 | cp >> 6);
        buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        buf[n++] = (uint8_t)(0xE0 | cp >> 12);
        buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
      } else {
        buf[n++] = (uint8_t)(0xF0 | cp >> 18);
        buf[n++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
      }
    }
    CHECK(ref_valid(buf, n));
    utf8_state st;
    utf8_init(&st);
    size_t i = 0;
    int r = UTF8_OK;
    while (i < n && r == UTF8_OK) {
      size_t c = (size_t)rand() % 9;
      if (c > n - i) c = n - i;
      r = utf8_feed(&st, buf + i, c);
      i += c;
    }
    CHECK_EQ(r, UTF8_OK);
    CHECK(utf8_complete(&st));
    if (n) {
      size_t at = (size_t)rand() % n;
      buf[at] = (uint8_t)rand();
      CHECK_EQ(utf8_valid(buf, n), ref_valid(buf, n));
    }
  }
}

TEST_MAIN(test_kuhn, test_reject_is_sticky, test_exhaustive_short, test_exhaustive_four,
          test_prefixes_completable, test_ascii_fast_path, test_random_text)
