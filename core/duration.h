/* core/duration.h — Go duration strings: exactly time.ParseDuration and Duration.String().
 * A duration is a signed 64-bit count of nanoseconds. Syntax: an optional sign, then "0" alone or
 * one or more <decimal number with optional fraction><unit> with units ns, us, µs (U+00B5),
 * μs (U+03BC), ms, s, m, h. Fractions are computed with Go's float64 arithmetic, so results are
 * bit-for-bit those of Go. Error messages (without Go's "time: " prefix) quote the input with
 * non-printable and non-ASCII bytes as \xNN and cut inputs longer than DUR_QUOTE_MAX bytes
 * (the quoted prefix is followed by "..."). */
#ifndef WISP_DURATION_H
#define WISP_DURATION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DUR_NANOSECOND  INT64_C(1)
#define DUR_MICROSECOND INT64_C(1000)
#define DUR_MILLISECOND INT64_C(1000000)
#define DUR_SECOND      INT64_C(1000000000)
#define DUR_MINUTE      INT64_C(60000000000)
#define DUR_HOUR        INT64_C(3600000000000)

/* Longest output of dur_format ("-2562047h47m16.854775808s") plus the NUL, rounded up. */
#define DUR_FORMAT_MAX 32
/* Input bytes shown in an error message before it is cut. */
#define DUR_QUOTE_MAX 64

/* Parses s[0..len) (need not be NUL-terminated). On success stores *out_ns and returns true.
 * On failure returns false, leaves *out_ns alone and writes a NUL-terminated message into err
 * (err may be NULL or errlen 0): invalid duration "abc", missing unit in duration "3",
 * unknown unit "x" in duration "3x", duration "3000000h" out of range. */
bool dur_parse(const char *s, size_t len, int64_t *out_ns, char *err, size_t errlen);

/* Writes Go's Duration.String() of ns ("0s", "1.5ms", "-1µs", "1h2m3.5s") to out, NUL-terminated
 * and cut to outlen - 1 bytes if needed (nothing written when outlen is 0). Returns the full
 * length without the NUL, like snprintf; a buffer of DUR_FORMAT_MAX bytes always suffices. */
size_t dur_format(int64_t ns, char *out, size_t outlen);

#endif
