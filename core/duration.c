/* core/duration.c — Go duration parsing and formatting. A line-for-line port of Go's
 * time.ParseDuration (leadingInt, leadingFraction) and Duration.format (fmtFrac, fmtInt); the
 * only deliberate difference is that overflow reports "out of range" where Go says "invalid". */
#include "core/duration.h"
#include <stdio.h>
#include <string.h>

#define U63 (UINT64_C(1) << 63)

typedef struct {
  const char *name;
  size_t len;
  uint64_t ns;
} dur_unit;

static const dur_unit dur_units[] = {
    {"ns", 2, 1},
    {"us", 2, 1000},
    {"\xc2\xb5s", 3, 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 3, 1000}, /* U+03BC Greek small letter mu */
    {"ms", 2, 1000000},
    {"s", 1, 1000000000},
    {"m", 1, UINT64_C(60000000000)},
    {"h", 1, UINT64_C(3600000000000)},
};

static bool dur_is_digit(char c) { return c >= '0' && c <= '9'; }

/* Go's quote(): printable ASCII as is ('"' and '\\' escaped), every other byte as \xNN.
 * Shows at most DUR_QUOTE_MAX input bytes; a longer input gets "..." after the closing quote.
 * dst must hold DUR_QUOTE_MAX * 4 + 6 bytes. */
static void dur_quote(char *dst, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t shown = n > DUR_QUOTE_MAX ? DUR_QUOTE_MAX : n, w = 0;
  dst[w++] = '"';
  for (size_t i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x7f) {
      dst[w++] = '\\';
      dst[w++] = 'x';
      dst[w++] = hex[c >> 4];
      dst[w++] = hex[c & 15];
    } else {
      if (c == '"' || c == '\\') dst[w++] = '\\';
      dst[w++] = (char)c;
    }
  }
  dst[w++] = '"';
  if (shown < n) {
    memcpy(dst + w, "...", 3);
    w += 3;
  }
  dst[w] = '\0';
}

enum { DUR_EINVALID, DUR_EMISSING_UNIT, DUR_ERANGE };

static bool dur_fail(int kind, const char *s, size_t len, char *err, size_t errlen) {
  if (!err || errlen == 0) return false;
  char q[DUR_QUOTE_MAX * 4 + 6];
  dur_quote(q, s, len);
  switch (kind) {
  case DUR_EMISSING_UNIT: snprintf(err, errlen, "missing unit in duration %s", q); break;
  case DUR_ERANGE: snprintf(err, errlen, "duration %s out of range", q); break;
  default: snprintf(err, errlen, "invalid duration %s", q); break;
  }
  return false;
}

static bool dur_fail_unit(const char *u, size_t ulen, const char *s, size_t len, char *err,
                          size_t errlen) {
  if (!err || errlen == 0) return false;
  char qu[DUR_QUOTE_MAX * 4 + 6], qs[DUR_QUOTE_MAX * 4 + 6];
  dur_quote(qu, u, ulen);
  dur_quote(qs, s, len);
  snprintf(err, errlen, "unknown unit %s in duration %s", qu, qs);
  return false;
}

bool dur_parse(const char *s, size_t len, int64_t *out_ns, char *err, size_t errlen) {
  if (!s) s = ""; /* (NULL, 0) is the empty string; keeps the pointer arithmetic defined */
  const char *p = s, *end = s + len;
  uint64_t d = 0;
  bool neg = false;

  if (p < end && (*p == '-' || *p == '+')) {
    neg = *p == '-';
    p++;
  }
  if (end - p == 1 && *p == '0') {
    *out_ns = 0;
    return true;
  }
  if (p == end) return dur_fail(DUR_EINVALID, s, len, err, errlen);

  while (p < end) {
    uint64_t v = 0, f = 0; /* integer part, fraction digits */
    double scale = 1;      /* value = v + f/scale */

    if (!(*p == '.' || dur_is_digit(*p))) return dur_fail(DUR_EINVALID, s, len, err, errlen);

    /* leadingInt: [0-9]* */
    const char *q = p;
    for (; p < end && dur_is_digit(*p); p++) {
      if (v > U63 / 10) return dur_fail(DUR_ERANGE, s, len, err, errlen);
      v = v * 10 + (uint64_t)(*p - '0');
      if (v > U63) return dur_fail(DUR_ERANGE, s, len, err, errlen);
    }
    bool pre = p != q;

    /* leadingFraction: (\.[0-9]*)?, stops accumulating precision instead of overflowing. */
    bool post = false;
    if (p < end && *p == '.') {
      p++;
      q = p;
      bool overflow = false;
      for (; p < end && dur_is_digit(*p); p++) {
        if (overflow) continue;
        if (f > (U63 - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + (uint64_t)(*p - '0');
        if (y > U63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = p != q;
    }
    if (!pre && !post) return dur_fail(DUR_EINVALID, s, len, err, errlen);

    /* Unit: everything up to the next '.' or digit. */
    q = p;
    while (p < end && !(*p == '.' || dur_is_digit(*p))) p++;
    if (p == q) return dur_fail(DUR_EMISSING_UNIT, s, len, err, errlen);
    uint64_t unit = 0;
    size_t ulen = (size_t)(p - q);
    for (size_t i = 0; i < sizeof dur_units / sizeof dur_units[0]; i++) {
      if (dur_units[i].len == ulen && memcmp(dur_units[i].name, q, ulen) == 0) {
        unit = dur_units[i].ns;
        break;
      }
    }
    if (!unit) return dur_fail_unit(q, ulen, s, len, err, errlen);

    if (v > U63 / unit) return dur_fail(DUR_ERANGE, s, len, err, errlen);
    v *= unit;
    if (f > 0) {
      /* Go: v += uint64(float64(f) * (float64(unit) / scale)); the product is below 3.6e12. */
      v += (uint64_t)((double)f * ((double)unit / scale));
      if (v > U63) return dur_fail(DUR_ERANGE, s, len, err, errlen);
    }
    d += v;
    if (d > U63) return dur_fail(DUR_ERANGE, s, len, err, errlen);
  }
  if (neg) {
    *out_ns = d == U63 ? INT64_MIN : -(int64_t)d;
    return true;
  }
  if (d > U63 - 1) return dur_fail(DUR_ERANGE, s, len, err, errlen);
  *out_ns = (int64_t)d;
  return true;
}

/* fmtFrac: writes the fraction of v / 10^prec before buf[w], omitting trailing zeros and the
 * point when the fraction is zero; returns the new start and stores v / 10^prec in *v. */
static size_t dur_fmt_frac(char *buf, size_t w, uint64_t *v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; i++) {
    unsigned digit = (unsigned)(*v % 10);
    print = print || digit != 0;
    if (print) buf[--w] = (char)('0' + digit);
    *v /= 10;
  }
  if (print) buf[--w] = '.';
  return w;
}

static size_t dur_fmt_int(char *buf, size_t w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
    return w;
  }
  while (v > 0) {
    buf[--w] = (char)('0' + v % 10);
    v /= 10;
  }
  return w;
}

size_t dur_format(int64_t ns, char *out, size_t outlen) {
  char buf[DUR_FORMAT_MAX];
  size_t w = sizeof buf;
  bool neg = ns < 0;
  uint64_t u = neg ? 0 - (uint64_t)ns : (uint64_t)ns;

  if (u < (uint64_t)DUR_SECOND) {
    /* Below one second: the largest of ns, µs, ms that fits, e.g. "1.2ms". */
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      neg = false;
      goto done;
    } else if (u < (uint64_t)DUR_MICROSECOND) {
      buf[--w] = 'n';
    } else if (u < (uint64_t)DUR_MILLISECOND) {
      prec = 3;
      buf[--w] = '\xb5'; /* U+00B5 in UTF-8 */
      buf[--w] = '\xc2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    w = dur_fmt_frac(buf, w, &u, prec);
    w = dur_fmt_int(buf, w, u);
  } else {
    buf[--w] = 's';
    w = dur_fmt_frac(buf, w, &u, 9);
    w = dur_fmt_int(buf, w, u % 60); /* u is now whole seconds */
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      w = dur_fmt_int(buf, w, u % 60);
      u /= 60;
      if (u > 0) { /* stop at hours: days differ in length */
        buf[--w] = 'h';
        w = dur_fmt_int(buf, w, u);
      }
    }
  }
  if (neg) buf[--w] = '-';
done:;
  size_t n = sizeof buf - w;
  if (outlen > 0) {
    size_t c = n < outlen ? n : outlen - 1;
    memcpy(out, buf + w, c);
    out[c] = '\0';
  }
  return n;
}
