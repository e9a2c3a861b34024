/* tests/unit/t.h — the smallest test harness: CHECK records a failure with file:line and goes
 * on; TEST_MAIN runs the listed cases and exits non-zero if any check failed. */
#ifndef WISP_T_H
#define WISP_T_H
#include <stdio.h>
#include <string.h>

static int t_checks, t_failures;

#define CHECK(cond)                                                               \
  do {                                                                            \
    t_checks++;                                                                   \
    if (!(cond)) {                                                                \
      t_failures++;                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                             \
  } while (0)

#define CHECK_EQ(a, b)                                                                        \
  do {                                                                                        \
    long long t_a = (long long)(a), t_b = (long long)(b);                                     \
    t_checks++;                                                                               \
    if (t_a != t_b) {                                                                         \
      t_failures++;                                                                           \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
              t_a, t_b);                                                                      \
    }                                                                                         \
  } while (0)

#define CHECK_STR(a, b)                                                                        \
  do {                                                                                         \
    const char *t_a = (a), *t_b = (b);                                                         \
    t_checks++;                                                                                \
    if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                                               \
      t_failures++;                                                                            \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
              t_a ? t_a : "(null)", t_b ? t_b : "(null)");                                     \
    }                                                                                          \
  } while (0)

typedef void (*t_case)(void);
#define TEST_MAIN(...)                                                        \
  int main(void) {                                                            \
    t_case cases[] = {__VA_ARGS__};                                           \
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) cases[i]();   \
    printf("%d checks, %d failed\n", t_checks, t_failures);                   \
    return t_failures ? 1 : 0;                                                \
  }

#endif
