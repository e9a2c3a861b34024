/* security/scope.c — scopes and the policy registry (scope.h).
 *
 * A scope keeps its deny policies and its allow policies in two arrays, each in insertion
 * order: a decision walks the denies (any match ends it), then the allows (the first match
 * ends it). Insertion order makes the reported deciding policy deterministic. Union semantics
 * come from sec_scope_add_policy ignoring a policy it already holds (pointer identity: the
 * registry hands out one object per named policy). The registry is a flat list; manifests
 * hold tens of policies, and it is only consulted while services are set up. */
#include "security/scope.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct policy_vec {
  sec_policy **v;
  size_t n, cap;
} policy_vec;

struct sec_scope {
  _Atomic size_t refs;
  policy_vec deny, allow;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static bool vec_has(const policy_vec *pv, const sec_policy *p) {
  for (size_t k = 0; k < pv->n; k++)
    if (pv->v[k] == p) return true;
  return false;
}

static int vec_push(policy_vec *pv, sec_policy *p) {
  if (pv->n == pv->cap) {
    size_t cap = pv->cap ? pv->cap * 2 : 8;
    sec_policy **v = realloc(pv->v, cap * sizeof *v);
    if (!v) return -1;
    pv->v = v;
    pv->cap = cap;
  }
  pv->v[pv->n++] = sec_policy_retain(p);
  return 0;
}

static void vec_free(policy_vec *pv) {
  for (size_t k = 0; k < pv->n; k++) sec_policy_release(pv->v[k]);
  free(pv->v);
}

sec_scope *sec_scope_new(void) {
  sec_scope *s = calloc(1, sizeof *s);
  if (s) atomic_init(&s->refs, 1);
  return s;
}

int sec_scope_add_policy(sec_scope *s, sec_policy *p) {
  if (!s || !p || atomic_load_explicit(&s->refs, memory_order_acquire) != 1) return -1;
  policy_vec *pv = sec_policy_effect(p) == SEC_DENY ? &s->deny : &s->allow;
  if (vec_has(pv, p)) return 0;
  return vec_push(pv, p);
}

size_t sec_scope_count(const sec_scope *s) { return s->deny.n + s->allow.n; }

sec_scope *sec_scope_retain(sec_scope *s) {
  if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void sec_scope_release(sec_scope *s) {
  if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  vec_free(&s->deny);
  vec_free(&s->allow);
  free(s);
}

sec_effect sec_scope_decide(const sec_scope *s, const sec_request *req,
                            const sec_policy **decider) {
  for (size_t k = 0; k < s->deny.n; k++) {
    if (sec_policy_matches(s->deny.v[k], req)) {
      *decider = s->deny.v[k];
      return SEC_DENY;
    }
  }
  for (size_t k = 0; k < s->allow.n; k++) {
    if (sec_policy_matches(s->allow.v[k], req)) {
      *decider = s->allow.v[k];
      return SEC_ALLOW;
    }
  }
  *decider = NULL;
  return SEC_DENY;
}

/* ---- registry ---- */

typedef struct reg_entry {
  sec_policy *p;
  char **groups;
  size_t ngroups;
} reg_entry;

struct sec_registry {
  reg_entry *v;
  size_t n, cap;
};

sec_registry *sec_registry_new(void) { return calloc(1, sizeof(sec_registry)); }

static void entry_free(reg_entry *e) {
  for (size_t k = 0; k < e->ngroups; k++) free(e->groups[k]);
  free(e->groups);
  sec_policy_release(e->p);
}

void sec_registry_free(sec_registry *r) {
  if (!r) return;
  for (size_t k = 0; k < r->n; k++) entry_free(&r->v[k]);
  free(r->v);
  free(r);
}

sec_policy *sec_registry_find(const sec_registry *r, const char *name) {
  for (size_t k = 0; k < r->n; k++)
    if (strcmp(sec_policy_name(r->v[k].p), name) == 0) return r->v[k].p;
  return NULL;
}

int sec_registry_add(sec_registry *r, sec_policy *p, const char *const *groups, size_t ngroups,
                     char *err, size_t errlen) {
  const char *name = sec_policy_name(p);
  if (!name) {
    set_err(err, errlen, "a registered policy needs a name");
    return -1;
  }
  if (sec_registry_find(r, name)) {
    set_err(err, errlen, "policy \"%s\" is already registered", name);
    return -1;
  }
  for (size_t k = 0; k < ngroups; k++) {
    if (!groups[k] || groups[k][0] == '\0') {
      set_err(err, errlen, "policy \"%s\": groups[%zu]: group name must not be empty", name, k);
      return -1;
    }
  }
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    reg_entry *v = realloc(r->v, cap * sizeof *v);
    if (!v) goto oom;
    r->v = v;
    r->cap = cap;
  }
  reg_entry e = {.p = p, .groups = NULL, .ngroups = 0};
  if (ngroups && !(e.groups = calloc(ngroups, sizeof *e.groups))) goto oom;
  for (; e.ngroups < ngroups; e.ngroups++) {
    if (!(e.groups[e.ngroups] = strdup(groups[e.ngroups]))) {
      for (size_t k = 0; k < e.ngroups; k++) free(e.groups[k]);
      free(e.groups);
      goto oom;
    }
  }
  sec_policy_retain(p);
  r->v[r->n++] = e;
  return 0;
oom:
  set_err(err, errlen, "policy \"%s\": out of memory", name);
  return -1;
}

static bool entry_in_group(const reg_entry *e, const char *group) {
  for (size_t k = 0; k < e->ngroups; k++)
    if (strcmp(e->groups[k], group) == 0) return true;
  return false;
}

sec_scope *sec_registry_scope(const sec_registry *r, const char *const *groups, size_t ngroups,
                              const char *const *policies, size_t npolicies, char *err,
                              size_t errlen) {
  sec_scope *s = sec_scope_new();
  if (!s) goto oom;
  for (size_t g = 0; g < ngroups; g++) {
    bool found = false;
    for (size_t k = 0; k < r->n; k++) {
      if (!entry_in_group(&r->v[k], groups[g])) continue;
      found = true;
      if (sec_scope_add_policy(s, r->v[k].p) < 0) goto oom;
    }
    if (!found) {
      set_err(err, errlen, "groups[%zu]: unknown security group \"%s\" (no policy belongs to it)",
              g, groups[g]);
      sec_scope_release(s);
      return NULL;
    }
  }
  for (size_t k = 0; k < npolicies; k++) {
    sec_policy *p = sec_registry_find(r, policies[k]);
    if (!p) {
      set_err(err, errlen, "policies[%zu]: unknown security policy \"%s\"", k, policies[k]);
      sec_scope_release(s);
      return NULL;
    }
    if (sec_scope_add_policy(s, p) < 0) goto oom;
  }
  return s;
oom:
  sec_scope_release(s);
  set_err(err, errlen, "out of memory");
  return NULL;
}
