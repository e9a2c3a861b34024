/* tests/fuzz/fuzz_duration.c — libFuzzer target for core/duration: arbitrary bytes go through
 * dur_parse (must not crash; errors must be NUL-terminated), every accepted value and the first
 * 8 input bytes read as an int64 must survive format -> parse unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int64_t d) {
  char buf[DUR_FORMAT_MAX], err[256];
  size_t n = dur_format(d, buf, sizeof buf);
  if (n >= sizeof buf || strlen(buf) != n) abort();
  int64_t back = 0;
  if (!dur_parse(buf, n, &back, err, sizeof err) || back != d) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[300];
  int64_t d = 0;
  err[sizeof err - 1] = 'Z';
  if (dur_parse((const char *)data, size, &d, err, sizeof err - 1)) {
    round_trip(d);
  } else if (memchr(err, '\0', sizeof err - 1) == NULL) {
    abort();
  }
  if (size >= 8) {
    uint64_t u;
    memcpy(&u, data, 8);
    round_trip((int64_t)u);
  }
  return 0;
}
