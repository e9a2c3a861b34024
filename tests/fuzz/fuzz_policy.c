/* tests/fuzz/fuzz_policy.c — libFuzzer target for the security room.
 *
 * The first byte picks a mode:
 *  - even: pattern differential. The rest is "pattern\nsubject"; sec_pattern_match must agree
 *    with a dynamic-programming reference matcher.
 *  - odd: the rest is JSON text. Whatever parses as JSON goes through sec_policy_parse (errors
 *    must be non-empty and NUL-terminated) and sec_actor_parse; an accepted policy is evaluated
 *    against fixed requests directly and through a scope and a context, with a reason buffer
 *    that must come back NUL-terminated.
 * Inputs holding a bounded repetition ("{n" or "{,") in any string are skipped: glibc's regcomp
 * expands nested bounds exponentially, a cost of trusted manifest text, not a bug to find here. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "security/context.h"
#include "security/pattern.h"
#include "security/policy.h"
#include "security/scope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATTERN 128
#define MAX_SUBJECT 512

/* m[i][j]: pattern[0..i) matches subject[0..j) */
static bool reference_match(const char *p, size_t plen, const char *s, size_t slen) {
  static bool m[MAX_PATTERN + 1][MAX_SUBJECT + 1];
  m[0][0] = true;
  for (size_t j = 1; j <= slen; j++) m[0][j] = false;
  for (size_t i = 1; i <= plen; i++) {
    bool star = p[i - 1] == '*';
    m[i][0] = star && m[i - 1][0];
    for (size_t j = 1; j <= slen; j++)
      m[i][j] = star ? (m[i - 1][j] || m[i][j - 1]) : (m[i - 1][j - 1] && p[i - 1] == s[j - 1]);
  }
  return m[plen][slen];
}

static void fuzz_pattern(const char *d, size_t n) {
  const char *nl = memchr(d, '\n', n);
  size_t plen = nl ? (size_t)(nl - d) : n;
  const char *s = nl ? nl + 1 : d + n;
  size_t slen = nl ? n - plen - 1 : 0;
  if (plen > MAX_PATTERN || slen > MAX_SUBJECT) return;
  sec_pattern *p = sec_pattern_compile(d, plen);
  if (!p) abort();
  if (sec_pattern_match(p, s, slen) != reference_match(d, plen, s, slen)) abort();
  sec_pattern_free(p);
}

static bool has_bound(const json_t *j) {
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    for (size_t k = 0; k + 1 < n; k++)
      if (s[k] == '{' && ((s[k + 1] >= '0' && s[k + 1] <= '9') || s[k + 1] == ',')) return true;
    return false;
  }
  if (json_is_array(j)) {
    for (size_t k = 0; k < json_array_size(j); k++)
      if (has_bound(json_array_get(j, k))) return true;
    return false;
  }
  if (json_is_object(j)) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
      if (has_bound(v)) return true;
    }
  }
  return false;
}

static void check_err(const char *err, size_t cap) {
  if (!memchr(err, '\0', cap) || err[0] == '\0') abort();
}

static void fuzz_policy(const char *d, size_t n) {
  json_t *j = json_loadb(d, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (!j) return;
  if (has_bound(j)) {
    json_decref(j);
    return;
  }
  char err[200];
  memset(err, 'x', sizeof err);
  sec_actor actor;
  if (sec_actor_parse(j, &actor, err, sizeof err) == 0)
    sec_actor_clear(&actor);
  else
    check_err(err, sizeof err);

  memset(err, 'x', sizeof err);
  sec_policy *p = sec_policy_parse_named(j, "fuzz:p", err, sizeof err);
  json_decref(j);
  if (!p) {
    check_err(err, sizeof err);
    return;
  }
  json_t *ameta = json_pack("{s:s, s:i, s:f, s:[s,s], s:{s:{s:s}}, s:n}", "tenant", "acme",
                            "level", 3, "score", 2.5, "roles", "admin", "dev", "nested", "a", "b",
                            "deep", "nul");
  json_t *meta = json_pack("{s:s, s:i, s:[s,s], s:b, s:{s:i}}", "tenant", "acme", "port", 443,
                           "tags", "x", "y", "flag", 1, "obj", "k", 1);
  sec_actor a = {.id = "user:42", .meta = ameta};
  static const char *const reqs[][2] = {
      {"websocket.connect.url", "wss://api.acme.example.com/feed"},
      {"websocket.connect", ""},
      {"process.spawn", "app:admin_panel"},
      {"", ""},
  };
  sec_scope *s = sec_scope_new();
  if (!s || sec_scope_add_policy(s, p) < 0) abort();
  sec_context *c = sec_context_new(&a, s, SEC_CTX_STRICT);
  if (!c) abort();
  for (size_t k = 0; k < sizeof reqs / sizeof reqs[0]; k++) {
    for (int with_meta = 0; with_meta < 2; with_meta++) {
      sec_request r = {.actor = &a, .action = reqs[k][0], .resource = reqs[k][1],
                       .meta = with_meta ? meta : NULL};
      bool m = sec_policy_matches(p, &r);
      char reason[64];
      memset(reason, 'x', sizeof reason);
      bool ok = sec_allowed(c, reqs[k][0], reqs[k][1], with_meta ? meta : NULL, reason,
                            sizeof reason);
      if (!memchr(reason, '\0', sizeof reason)) abort();
      /* one policy in the scope: allowed exactly when it is a matching allow */
      if (ok != (m && sec_policy_effect(p) == SEC_ALLOW)) abort();
      r.actor = NULL;
      (void)sec_policy_matches(p, &r);
    }
  }
  sec_context_release(c);
  sec_scope_release(s);
  sec_policy_release(p);
  json_decref(ameta);
  json_decref(meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const char *d = (const char *)data + 1;
  size_t n = size - 1;
  if (data[0] & 1)
    fuzz_policy(d, n);
  else
    fuzz_pattern(d, n);
  return 0;
}
