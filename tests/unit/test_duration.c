/* tests/unit/test_duration.c — dur_parse / dur_format against Go's own test tables
 * (time_test.go: parseDurationTests, parseDurationErrorTests, durationTests) plus messages,
 * truncation and round trips. */
#include <stdint.h>
#include <string.h>
#include "core/duration.h"
#include "tests/unit/t.h"

#define NS INT64_C(1)
#define US DUR_MICROSECOND
#define MS DUR_MILLISECOND
#define SEC DUR_SECOND
#define MIN DUR_MINUTE
#define HOUR DUR_HOUR

static bool parse(const char *s, int64_t *d, char *err, size_t errlen) {
  return dur_parse(s, strlen(s), d, err, errlen);
}

static void test_parse_ok(void) {
  static const struct {
    const char *in;
    int64_t want;
  } cases[] = {
      /* simple */
      {"0", 0},
      {"5s", 5 * SEC},
      {"30s", 30 * SEC},
      {"1478s", 1478 * SEC},
      /* sign */
      {"-5s", -5 * SEC},
      {"+5s", 5 * SEC},
      {"-0", 0},
      {"+0", 0},
      /* decimal */
      {"5.0s", 5 * SEC},
      {"5.6s", 5 * SEC + 600 * MS},
      {"5.s", 5 * SEC},
      {".5s", 500 * MS},
      {"1.0s", 1 * SEC},
      {"1.00s", 1 * SEC},
      {"1.004s", 1 * SEC + 4 * MS},
      {"1.0040s", 1 * SEC + 4 * MS},
      {"100.00100s", 100 * SEC + 1 * MS},
      /* different units */
      {"10ns", 10 * NS},
      {"11us", 11 * US},
      {"12\xc2\xb5s", 12 * US}, /* U+00B5 */
      {"12\xce\xbcs", 12 * US}, /* U+03BC */
      {"13ms", 13 * MS},
      {"14s", 14 * SEC},
      {"15m", 15 * MIN},
      {"16h", 16 * HOUR},
      /* composite durations */
      {"3h30m", 3 * HOUR + 30 * MIN},
      {"10.5s4m", 4 * MIN + 10 * SEC + 500 * MS},
      {"-2m3.4s", -(2 * MIN + 3 * SEC + 400 * MS)},
      {"1h2m3s4ms5us6ns", 1 * HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6 * NS},
      {"39h9m14.425s", 39 * HOUR + 9 * MIN + 14 * SEC + 425 * MS},
      {"1h2m3.5s", HOUR + 2 * MIN + 3 * SEC + 500 * MS},
      /* large value */
      {"52763797000ns", 52763797000 * NS},
      /* more than 9 digits after decimal point, golang.org/issue/6617 */
      {"0.3333333333333333333h", 20 * MIN},
      /* 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64 */
      {"9007199254740993ns", (INT64_C(1) << 53) + 1},
      /* largest duration that can be represented by int64 in nanoseconds */
      {"9223372036854775807ns", INT64_MAX},
      {"9223372036854775.807us", INT64_MAX},
      {"9223372036s854ms775us807ns", INT64_MAX},
      {"-9223372036854775808ns", INT64_MIN},
      {"-9223372036854775.808us", INT64_MIN},
      {"-9223372036s854ms775us808ns", INT64_MIN},
      /* largest negative round trip value, golang.org/issue/48629 */
      {"-2562047h47m16.854775808s", INT64_MIN},
      {"2562047h47m16.854775807s", INT64_MAX},
      /* huge string; golang.org/issue/15011 */
      {"0.100000000000000000000h", 6 * MIN},
      /* the first overflow check in leadingFraction */
      {"0.830103483285477580700h", 49 * MIN + 48 * SEC + 372539827 * NS},
      /* leading zeros never overflow */
      {"00000000000000000000000000001s", SEC},
      {"0s", 0},
      {"-0s", 0},
      {"0.000000001s", 1},
      {"1.9999999999ns", 1}, /* fractions of a nanosecond are truncated */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t d = 12345;
    char err[128] = "";
    bool ok = parse(cases[i].in, &d, err, sizeof err);
    if (!ok || d != cases[i].want)
      fprintf(stderr, "parse(\"%s\"): ok=%d d=%lld err=%s\n", cases[i].in, ok, (long long)d, err);
    CHECK(ok);
    CHECK_EQ(d, cases[i].want);
  }
}

static void test_parse_errors(void) {
  static const struct {
    const char *in;
    const char *msg;
  } cases[] = {
      {"", "invalid duration \"\""},
      {"3", "missing unit in duration \"3\""},
      {"-", "invalid duration \"-\""},
      {"+", "invalid duration \"+\""},
      {"s", "invalid duration \"s\""},
      {".", "invalid duration \".\""},
      {"-.", "invalid duration \"-.\""},
      {".s", "invalid duration \".s\""},
      {"+.s", "invalid duration \"+.s\""},
      {"abc", "invalid duration \"abc\""},
      {"1d", "unknown unit \"d\" in duration \"1d\""},
      {"3x", "unknown unit \"x\" in duration \"3x\""},
      {"1µ", "unknown unit \"\\xc2\\xb5\" in duration \"1\\xc2\\xb5\""},
      {"1S", "unknown unit \"S\" in duration \"1S\""},
      {"1 s", "unknown unit \" s\" in duration \"1 s\""},
      {"1s ", "unknown unit \"s \" in duration \"1s \""},
      {" 1s", "invalid duration \" 1s\""},
      {"--1s", "invalid duration \"--1s\""},
      {"1s-1s", "unknown unit \"s-\" in duration \"1s-1s\""},
      {"00", "missing unit in duration \"00\""},
      {"1h2", "missing unit in duration \"1h2\""},
      {"1..2s", "missing unit in duration \"1..2s\""},
      {"\x85\x85", "invalid duration \"\\x85\\x85\""},
      {"\xff" "ff", "invalid duration \"\\xffff\""},
      {"hello \xff" "ff world", "invalid duration \"hello \\xffff world\""},
      {"\xef\xbf\xbd", "invalid duration \"\\xef\\xbf\\xbd\""}, /* utf8.RuneError */
      {"\xef\xbf\xbd hello \xef\xbf\xbd world",
       "invalid duration \"\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world\""},
      {"\"q\\", "invalid duration \"\\\"q\\\\\""},
      {"1\ts", "unknown unit \"\\x09s\" in duration \"1\\x09s\""},
      /* overflow */
      {"9223372036854775810ns", "duration \"9223372036854775810ns\" out of range"},
      {"9223372036854775808ns", "duration \"9223372036854775808ns\" out of range"},
      {"-9223372036854775809ns", "duration \"-9223372036854775809ns\" out of range"},
      {"9223372036854776us", "duration \"9223372036854776us\" out of range"},
      {"3000000h", "duration \"3000000h\" out of range"},
      {"9223372036854775.808us", "duration \"9223372036854775.808us\" out of range"},
      {"9223372036854ms775us808ns", "duration \"9223372036854ms775us808ns\" out of range"},
      {"2562047h47m16.854775808s", "duration \"2562047h47m16.854775808s\" out of range"},
      {"-2562047h47m16.854775809s", "duration \"-2562047h47m16.854775809s\" out of range"},
      {"99999999999999999999ns", "duration \"99999999999999999999ns\" out of range"},
      {"2562048h", "duration \"2562048h\" out of range"},
      {"1562047h1562047h", "duration \"1562047h1562047h\" out of range"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t d = 777;
    char err[256] = "";
    bool ok = parse(cases[i].in, &d, err, sizeof err);
    CHECK(!ok);
    CHECK_EQ(d, 777);
    CHECK_STR(err, cases[i].msg);
  }
}

static void test_parse_binary_and_buffers(void) {
  int64_t d = 0;
  char err[128];
  /* Length is explicit: the parser stops at len and accepts embedded NULs as bytes. */
  CHECK(dur_parse("5s garbage", 2, &d, err, sizeof err));
  CHECK_EQ(d, 5 * SEC);
  CHECK(!dur_parse("1s\0", 3, &d, err, sizeof err));
  CHECK_STR(err, "unknown unit \"s\\x00\" in duration \"1s\\x00\"");
  CHECK(dur_parse("0", 1, &d, NULL, 0));
  CHECK(!dur_parse(NULL, 0, &d, NULL, 0));
  CHECK(!dur_parse("x", 1, &d, NULL, 0));
  /* A small error buffer is filled and NUL-terminated. */
  char small[8];
  memset(small, 'Z', sizeof small);
  CHECK(!dur_parse("abc", 3, &d, small, sizeof small));
  CHECK_STR(small, "invalid");
  char one[1] = {'Z'};
  CHECK(!dur_parse("abc", 3, &d, one, 1));
  CHECK_EQ(one[0], 0);
}

static void test_long_input_messages(void) {
  char in[4096], err[1024];
  int64_t d;
  memset(in, '1', sizeof in);
  in[sizeof in - 1] = 's';
  CHECK(!dur_parse(in, sizeof in, &d, err, sizeof err));
  char want[200];
  snprintf(want, sizeof want, "duration \"%.*s\"... out of range", DUR_QUOTE_MAX,
           "1111111111111111111111111111111111111111111111111111111111111111111111111111");
  CHECK_STR(err, want);
  /* Very long unknown unit: both quotes are cut. */
  memset(in, 'x', sizeof in);
  in[0] = '1';
  CHECK(!dur_parse(in, sizeof in, &d, err, sizeof err));
  CHECK(strncmp(err, "unknown unit \"xxx", 17) == 0);
  CHECK(strstr(err, "\"... in duration \"1xxx") != NULL);
  CHECK(strlen(err) < 200);
  /* Escaped bytes in a cut input. */
  memset(in, '\xff', sizeof in);
  CHECK(!dur_parse(in, sizeof in, &d, err, sizeof err));
  CHECK_EQ(strlen(err), strlen("invalid duration \"\"...") + 4 * DUR_QUOTE_MAX);
  /* Exactly DUR_QUOTE_MAX bytes: shown whole. */
  memset(in, 'a', DUR_QUOTE_MAX);
  CHECK(!dur_parse(in, DUR_QUOTE_MAX, &d, err, sizeof err));
  CHECK(err[strlen(err) - 1] == '"');
  /* Long valid inputs parse. */
  size_t n = 0;
  for (int i = 0; i < 500; i++) n += (size_t)snprintf(in + n, sizeof in - n, "1ns");
  CHECK(dur_parse(in, n, &d, err, sizeof err));
  CHECK_EQ(d, 500);
  /* A fraction with thousands of digits stops gaining precision, as in Go. */
  in[0] = '0';
  in[1] = '.';
  memset(in + 2, '5', 3000);
  in[3002] = 's';
  CHECK(dur_parse(in, 3003, &d, err, sizeof err));
  CHECK_EQ(d, 555555555);
}

static void test_format(void) {
  static const struct {
    const char *str;
    int64_t d;
  } cases[] = {
      {"0s", 0},
      {"1ns", 1 * NS},
      {"1.1\xc2\xb5s", 1100 * NS},
      {"2.2ms", 2200 * US},
      {"3.3s", 3300 * MS},
      {"4m5s", 4 * MIN + 5 * SEC},
      {"4m5.001s", 4 * MIN + 5001 * MS},
      {"5h6m7.001s", 5 * HOUR + 6 * MIN + 7001 * MS},
      {"8m0.000000001s", 8 * MIN + 1 * NS},
      {"2562047h47m16.854775807s", INT64_MAX},
      {"-2562047h47m16.854775808s", INT64_MIN},
      {"1.5ms", 1500 * US},
      {"1h2m3.5s", HOUR + 2 * MIN + 3 * SEC + 500 * MS},
      {"-1\xc2\xb5s", -1 * US},
      {"-1ns", -1},
      {"999ns", 999},
      {"1\xc2\xb5s", 1000},
      {"999.999\xc2\xb5s", 999999},
      {"1ms", 1000000},
      {"999.999999ms", 999999999},
      {"1s", SEC},
      {"1m0s", MIN},
      {"1h0m0s", HOUR},
      {"-1h0m0.000000001s", -HOUR - 1},
      {"59.999999999s", MIN - 1},
      {"100h0m0s", 100 * HOUR},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[DUR_FORMAT_MAX];
    size_t n = dur_format(cases[i].d, buf, sizeof buf);
    CHECK_STR(buf, cases[i].str);
    CHECK_EQ(n, strlen(cases[i].str));
    /* Every formatted string parses back. */
    int64_t back = 0;
    CHECK(dur_parse(buf, n, &back, NULL, 0));
    CHECK_EQ(back, cases[i].d);
  }
}

static void test_format_truncation(void) {
  char buf[8];
  memset(buf, 'Z', sizeof buf);
  CHECK_EQ(dur_format(HOUR + 2 * MIN + 3 * SEC + 500 * MS, buf, 5), 8);
  CHECK_STR(buf, "1h2m");
  CHECK_EQ(buf[5], 'Z');
  CHECK_EQ(dur_format(5 * SEC, buf, 0), 2);
  CHECK_EQ(buf[0], '1');
  CHECK_EQ(dur_format(5 * SEC, NULL, 0), 2);
  CHECK_EQ(dur_format(5 * SEC, buf, 1), 2);
  CHECK_EQ(buf[0], '\0');
  CHECK_EQ(dur_format(INT64_MIN, NULL, 0), 25);
  CHECK(25 < DUR_FORMAT_MAX);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) {
  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void test_round_trip(void) {
  /* Go's TestParseDurationRoundTrip, over random values of every magnitude and the edges. */
  int failures = 0;
  for (int i = 0; i < 200000; i++) {
    int64_t d;
    if (i < 64) {
      d = (int64_t)(UINT64_C(1) << i);
    } else if (i < 128) {
      d = -(int64_t)((UINT64_C(1) << (i - 64)) - 1);
    } else {
      uint64_t r = rng();
      d = (int64_t)(r >> (rng() % 64));
      if ((rng() & 1) && d != INT64_MIN) d = -d;
    }
    char buf[DUR_FORMAT_MAX], err[128];
    size_t n = dur_format(d, buf, sizeof buf);
    int64_t back = 0;
    if (!dur_parse(buf, n, &back, err, sizeof err) || back != d) {
      if (failures++ < 5) fprintf(stderr, "round trip %lld -> %s -> %lld\n", (long long)d, buf,
                                  (long long)back);
    }
  }
  CHECK_EQ(failures, 0);
}

TEST_MAIN(test_parse_ok, test_parse_errors, test_parse_binary_and_buffers,
          test_long_input_messages, test_format, test_format_truncation, test_round_trip)
