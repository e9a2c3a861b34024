/* security/policy.c — policy parsing, compilation and matching (policy.h).
 *
 * Everything a request is checked against is prepared at parse time: patterns compiled, field
 * paths split into keys, literal values deep-copied (so later changes to the manifest tree
 * cannot reach a shared policy), regexes compiled. Matching then only reads, allocates nothing
 * and takes no lock; glibc's regexec is safe on a shared regex_t.
 *
 * Values are compared through a small view (sval) so that the request's C strings (action,
 * resource, actor id) and jansson values go through the same rules without building temporary
 * jansson strings. */
#include "security/policy.h"
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "security/pattern.h"

typedef enum sec_op {
  OP_EQ, OP_NE, OP_LT, OP_GT, OP_LTE, OP_GTE, OP_IN, OP_NIN, OP_EXISTS, OP_NEXISTS,
  OP_CONTAINS, OP_NCONTAINS, OP_MATCHES, OP_NMATCHES, OP_COUNT
} sec_op;

static const char *const op_names[OP_COUNT] = {
    "eq", "ne", "lt", "gt", "lte", "gte", "in", "nin", "exists", "nexists",
    "contains", "ncontains", "matches", "nmatches",
};
#define OP_LIST "eq ne lt gt lte gte in nin exists nexists contains ncontains matches nmatches"
#define FIELD_LIST "action, resource, actor.id, actor.meta.<key>, meta.<key>"

typedef enum field_root { FR_ACTION, FR_RESOURCE, FR_ACTOR_ID, FR_ACTOR_META, FR_META } field_root;

typedef struct sec_field {
  field_root root;
  size_t nkeys;  /* keys below actor.meta / meta; 0 = the whole object */
  char **keys;   /* point into buf */
  char *buf;     /* the keys, NUL-separated */
} sec_field;

typedef struct sec_cond {
  sec_field field;
  sec_op op;
  json_t *value;     /* owned literal, NULL with value_from or for exists/nexists */
  bool has_from;
  sec_field from;
  bool has_regex;
  regex_t re;
} sec_cond;

struct sec_policy {
  _Atomic size_t refs;
  sec_effect effect;
  char *name;
  sec_pattern **actions;
  size_t nactions;
  sec_pattern **resources;
  size_t nresources;
  sec_cond *conds;
  size_t nconds;
};

/* ---- errors ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
  }
  return "value";
}

/* True when key[0..klen) is one of the NULL-terminated names (keys holding NUL bytes never
 * are). */
static bool key_known(const char *key, size_t klen, const char *const *names) {
  for (; *names; names++)
    if (strlen(*names) == klen && memcmp(key, *names, klen) == 0) return true;
  return false;
}

/* ---- value views ---- */

typedef enum sv_type { SV_NONE, SV_NULL, SV_STR, SV_INT, SV_REAL, SV_BOOL, SV_ARRAY, SV_OBJECT } sv_type;

typedef struct sval {
  sv_type t;
  const char *s; /* SV_STR */
  size_t len;
  json_int_t i;  /* SV_INT, SV_BOOL (0/1) */
  double d;      /* SV_REAL */
  const json_t *j; /* SV_ARRAY, SV_OBJECT */
} sval;

static sval sv_json(const json_t *j) {
  sval v = {.t = SV_NONE};
  if (!j) return v;
  switch (json_typeof(j)) {
    case JSON_STRING: v.t = SV_STR; v.s = json_string_value(j); v.len = json_string_length(j); break;
    case JSON_INTEGER: v.t = SV_INT; v.i = json_integer_value(j); break;
    case JSON_REAL: v.t = SV_REAL; v.d = json_real_value(j); break;
    case JSON_TRUE: v.t = SV_BOOL; v.i = 1; break;
    case JSON_FALSE: v.t = SV_BOOL; v.i = 0; break;
    case JSON_NULL: v.t = SV_NULL; break;
    case JSON_ARRAY: v.t = SV_ARRAY; v.j = j; break;
    case JSON_OBJECT: v.t = SV_OBJECT; v.j = j; break;
  }
  return v;
}

static sval sv_cstr(const char *s) {
  sval v = {.t = SV_NONE};
  if (s) {
    v.t = SV_STR;
    v.s = s;
    v.len = strlen(s);
  }
  return v;
}

static bool sv_numeric(const sval *v) { return v->t == SV_INT || v->t == SV_REAL; }
static double sv_num(const sval *v) { return v->t == SV_INT ? (double)v->i : v->d; }

static bool sv_equal(const sval *a, const sval *b);

static bool json_same(const json_t *a, const json_t *b) {
  sval x = sv_json(a), y = sv_json(b);
  return sv_equal(&x, &y);
}

static bool sv_equal(const sval *a, const sval *b) {
  if (sv_numeric(a) && sv_numeric(b)) {
    if (a->t == SV_INT && b->t == SV_INT) return a->i == b->i;
    return sv_num(a) == sv_num(b);
  }
  if (a->t != b->t) return false;
  switch (a->t) {
    case SV_NONE: return false;
    case SV_NULL: return true;
    case SV_STR: return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    case SV_BOOL: return a->i == b->i;
    case SV_ARRAY: {
      size_t n = json_array_size(a->j);
      if (n != json_array_size(b->j)) return false;
      for (size_t k = 0; k < n; k++)
        if (!json_same(json_array_get(a->j, k), json_array_get(b->j, k))) return false;
      return true;
    }
    case SV_OBJECT: {
      if (json_object_size(a->j) != json_object_size(b->j)) return false;
      const char *key;
      size_t klen;
      json_t *val;
      json_t *obj = (json_t *)a->j; /* iteration does not modify */
      json_object_keylen_foreach(obj, key, klen, val) {
        const json_t *other = json_object_getn(b->j, key, klen);
        if (!other || !json_same(val, other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

/* Orders a against b: true with *cmp < 0, 0, > 0 when both are numbers or both strings. */
static bool sv_order(const sval *a, const sval *b, int *cmp) {
  if (sv_numeric(a) && sv_numeric(b)) {
    if (a->t == SV_INT && b->t == SV_INT) {
      *cmp = (a->i > b->i) - (a->i < b->i);
    } else {
      double x = sv_num(a), y = sv_num(b);
      *cmp = (x > y) - (x < y);
    }
    return true;
  }
  if (a->t == SV_STR && b->t == SV_STR) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c == 0) c = (a->len > b->len) - (a->len < b->len);
    *cmp = c;
    return true;
  }
  return false;
}

static bool array_has(const json_t *arr, const sval *x) {
  for (size_t k = 0; k < json_array_size(arr); k++) {
    sval e = sv_json(json_array_get(arr, k));
    if (sv_equal(&e, x)) return true;
  }
  return false;
}

/* ---- fields ---- */

static void field_free(sec_field *f) {
  free(f->keys);
  free(f->buf);
  f->keys = NULL;
  f->buf = NULL;
}

/* Parses a field path; on error writes "<what>: ..." to err. */
static int field_parse(const json_t *v, const char *what, sec_field *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  if (!json_is_string(v)) {
    set_err(err, errlen, "%s: must be a string, got %s", what, type_name(v));
    return -1;
  }
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (strlen(s) != len) {
    set_err(err, errlen, "%s: contains a NUL byte", what);
    return -1;
  }
  const char *rest = NULL;
  if (strcmp(s, "action") == 0) {
    f->root = FR_ACTION;
  } else if (strcmp(s, "resource") == 0) {
    f->root = FR_RESOURCE;
  } else if (strcmp(s, "actor.id") == 0) {
    f->root = FR_ACTOR_ID;
  } else if (strcmp(s, "actor.meta") == 0 || strncmp(s, "actor.meta.", 11) == 0) {
    f->root = FR_ACTOR_META;
    rest = s + 10;
  } else if (strcmp(s, "meta") == 0 || strncmp(s, "meta.", 5) == 0) {
    f->root = FR_META;
    rest = s + 4;
  } else {
    set_err(err, errlen, "%s: unknown field \"%s\" (expected %s)", what, s, FIELD_LIST);
    return -1;
  }
  if (!rest || *rest == '\0') return 0;
  rest++; /* the '.' */
  size_t n = 1;
  for (const char *p = rest; *p; p++) n += *p == '.';
  f->buf = strdup(rest);
  f->keys = malloc(n * sizeof *f->keys);
  if (!f->buf || !f->keys) {
    field_free(f);
    set_err(err, errlen, "%s: out of memory", what);
    return -1;
  }
  char *p = f->buf;
  for (size_t k = 0; k < n; k++) {
    char *dot = strchr(p, '.');
    if (dot) *dot = '\0';
    if (*p == '\0') {
      set_err(err, errlen, "%s: empty key in \"%s\"", what, s);
      field_free(f);
      return -1;
    }
    f->keys[k] = p;
    p = dot ? dot + 1 : p + strlen(p);
  }
  f->nkeys = n;
  return 0;
}

/* The field's value for a request; absent and JSON null are SV_NONE. */
static sval field_get(const sec_field *f, const sec_request *r) {
  sval none = {.t = SV_NONE};
  const json_t *cur;
  switch (f->root) {
    case FR_ACTION: return sv_cstr(r->action);
    case FR_RESOURCE: return sv_cstr(r->resource);
    case FR_ACTOR_ID: return r->actor ? sv_cstr(r->actor->id) : none;
    case FR_ACTOR_META: cur = r->actor ? r->actor->meta : NULL; break;
    case FR_META: cur = r->meta; break;
    default: return none;
  }
  for (size_t k = 0; k < f->nkeys && cur; k++)
    cur = json_is_object(cur) ? json_object_get(cur, f->keys[k]) : NULL;
  sval v = sv_json(cur);
  if (v.t == SV_NULL) v.t = SV_NONE;
  return v;
}

/* ---- conditions ---- */

static void cond_free(sec_cond *c) {
  field_free(&c->field);
  field_free(&c->from);
  json_decref(c->value);
  if (c->has_regex) regfree(&c->re);
}

static bool cond_holds(const sec_cond *c, const sec_request *r) {
  sval a = field_get(&c->field, r);
  if (c->op == OP_EXISTS) return a.t != SV_NONE;
  if (c->op == OP_NEXISTS) return a.t == SV_NONE;
  if (a.t == SV_NONE) return false;
  if (c->op == OP_MATCHES || c->op == OP_NMATCHES) {
    if (a.t != SV_STR) return false;
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)a.len}};
    bool hit = regexec(&c->re, a.s, 1, m, REG_STARTEND) == 0;
    return c->op == OP_MATCHES ? hit : !hit;
  }
  sval b;
  if (c->has_from) {
    b = field_get(&c->from, r);
  } else {
    b = sv_json(c->value);
  }
  if (b.t == SV_NONE) return false;
  int cmp;
  switch (c->op) {
    case OP_EQ: return sv_equal(&a, &b);
    case OP_NE: return !sv_equal(&a, &b);
    case OP_LT: return sv_order(&a, &b, &cmp) && cmp < 0;
    case OP_GT: return sv_order(&a, &b, &cmp) && cmp > 0;
    case OP_LTE: return sv_order(&a, &b, &cmp) && cmp <= 0;
    case OP_GTE: return sv_order(&a, &b, &cmp) && cmp >= 0;
    case OP_IN:
    case OP_NIN:
      if (b.t != SV_ARRAY) return false;
      return array_has(b.j, &a) == (c->op == OP_IN);
    case OP_CONTAINS:
    case OP_NCONTAINS: {
      bool hit;
      if (a.t == SV_STR && b.t == SV_STR) {
        hit = b.len == 0 || (a.len >= b.len && memmem(a.s, a.len, b.s, b.len) != NULL);
      } else if (a.t == SV_ARRAY) {
        hit = array_has(a.j, &b);
      } else {
        return false;
      }
      return hit == (c->op == OP_CONTAINS);
    }
    default: return false;
  }
}

/* Parses conditions[idx]. */
static int cond_parse(const json_t *j, size_t idx, sec_cond *c, char *err, size_t errlen) {
  char what[64], sub[80];
  snprintf(what, sizeof what, "conditions[%zu]", idx);
  memset(c, 0, sizeof *c);
  if (!json_is_object(j)) {
    set_err(err, errlen, "%s: must be an object {field, operator, value | value_from}, got %s",
            what, type_name(j));
    return -1;
  }
  static const char *const known[] = {"field", "operator", "value", "value_from", NULL};
  const char *key;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)j, key, klen, v) {
    if (!key_known(key, klen, known)) {
      set_err(err, errlen, "%s: unknown field \"%s\" (expected field, operator, value, value_from)",
              what, key);
      return -1;
    }
  }
  const json_t *jf = json_object_get(j, "field"), *jo = json_object_get(j, "operator");
  const json_t *jv = json_object_get(j, "value"), *jfrom = json_object_get(j, "value_from");
  if (!jf) {
    set_err(err, errlen, "%s.field: required", what);
    return -1;
  }
  snprintf(sub, sizeof sub, "%s.field", what);
  if (field_parse(jf, sub, &c->field, err, errlen) < 0) return -1;
  if (!jo) {
    set_err(err, errlen, "%s.operator: required", what);
    goto fail;
  }
  if (!json_is_string(jo)) {
    set_err(err, errlen, "%s.operator: must be a string, got %s", what, type_name(jo));
    goto fail;
  }
  const char *opname = json_string_value(jo);
  int op = -1;
  for (int k = 0; k < OP_COUNT; k++)
    if (strcmp(opname, op_names[k]) == 0 && strlen(opname) == json_string_length(jo)) op = k;
  if (op < 0) {
    set_err(err, errlen, "%s.operator: unknown operator \"%s\" (expected one of " OP_LIST ")",
            what, opname);
    goto fail;
  }
  c->op = (sec_op)op;

  if (c->op == OP_EXISTS || c->op == OP_NEXISTS) {
    if (jv || jfrom) {
      set_err(err, errlen, "%s: operator \"%s\" takes no value or value_from", what, opname);
      goto fail;
    }
    return 0;
  }
  if (jv && jfrom) {
    set_err(err, errlen, "%s: give either value or value_from, not both", what);
    goto fail;
  }
  if (!jv && !jfrom) {
    set_err(err, errlen, "%s: operator \"%s\" needs value or value_from", what, opname);
    goto fail;
  }
  if (jfrom) {
    if (c->op == OP_MATCHES || c->op == OP_NMATCHES) {
      set_err(err, errlen,
              "%s.value_from: operator \"%s\" takes a literal regex in value (regexes are "
              "compiled when the policy is loaded)",
              what, opname);
      goto fail;
    }
    snprintf(sub, sizeof sub, "%s.value_from", what);
    if (field_parse(jfrom, sub, &c->from, err, errlen) < 0) goto fail;
    c->has_from = true;
    return 0;
  }
  /* a literal value: check it fits the operator */
  if (json_is_null(jv)) {
    set_err(err, errlen, "%s.value: must not be null (use exists / nexists)", what);
    goto fail;
  }
  switch (c->op) {
    case OP_LT: case OP_GT: case OP_LTE: case OP_GTE:
      if (!json_is_number(jv) && !json_is_string(jv)) {
        set_err(err, errlen, "%s.value: operator \"%s\" needs a number or a string, got %s", what,
                opname, type_name(jv));
        goto fail;
      }
      break;
    case OP_IN: case OP_NIN:
      if (!json_is_array(jv)) {
        set_err(err, errlen, "%s.value: operator \"%s\" needs an array, got %s", what, opname,
                type_name(jv));
        goto fail;
      }
      break;
    case OP_MATCHES: case OP_NMATCHES: {
      if (!json_is_string(jv)) {
        set_err(err, errlen, "%s.value: operator \"%s\" needs a regex string, got %s", what,
                opname, type_name(jv));
        goto fail;
      }
      const char *rx = json_string_value(jv);
      if (strlen(rx) != json_string_length(jv)) {
        set_err(err, errlen, "%s.value: regex contains a NUL byte", what);
        goto fail;
      }
      int rc = regcomp(&c->re, rx, REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char msg[128];
        regerror(rc, &c->re, msg, sizeof msg);
        set_err(err, errlen, "%s.value: invalid regex \"%s\": %s", what, rx, msg);
        goto fail;
      }
      c->has_regex = true;
      return 0;
    }
    default: break;
  }
  c->value = json_deep_copy(jv);
  if (!c->value) {
    set_err(err, errlen, "%s.value: out of memory", what);
    goto fail;
  }
  return 0;
fail:
  cond_free(c);
  memset(c, 0, sizeof *c);
  return -1;
}

/* ---- policies ---- */

static void patterns_free(sec_pattern **v, size_t n) {
  for (size_t k = 0; k < n; k++) sec_pattern_free(v[k]);
  free(v);
}

static int patterns_parse(const json_t *j, const char *what, sec_pattern ***out, size_t *nout,
                          char *err, size_t errlen) {
  *out = NULL;
  *nout = 0;
  if (!j) {
    set_err(err, errlen, "%s: required (a pattern or a list of patterns)", what);
    return -1;
  }
  size_t n;
  if (json_is_string(j)) {
    n = 1;
  } else if (json_is_array(j)) {
    n = json_array_size(j);
    if (n == 0) {
      set_err(err, errlen, "%s: must not be empty", what);
      return -1;
    }
  } else {
    set_err(err, errlen, "%s: must be a string or a list of strings, got %s", what, type_name(j));
    return -1;
  }
  sec_pattern **v = calloc(n, sizeof *v);
  if (!v) {
    set_err(err, errlen, "%s: out of memory", what);
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    const json_t *e = json_is_array(j) ? json_array_get(j, k) : j;
    char where[64];
    if (json_is_array(j))
      snprintf(where, sizeof where, "%s[%zu]", what, k);
    else
      snprintf(where, sizeof where, "%s", what);
    if (!json_is_string(e)) {
      set_err(err, errlen, "%s: must be a string, got %s", where, type_name(e));
      goto fail;
    }
    const char *s = json_string_value(e);
    size_t len = json_string_length(e);
    if (strlen(s) != len) {
      set_err(err, errlen, "%s: contains a NUL byte", where);
      goto fail;
    }
    v[k] = sec_pattern_compile(s, len);
    if (!v[k]) {
      set_err(err, errlen, "%s: out of memory", where);
      goto fail;
    }
  }
  *out = v;
  *nout = n;
  return 0;
fail:
  patterns_free(v, n);
  return -1;
}

static void policy_free(sec_policy *p) {
  patterns_free(p->actions, p->nactions);
  patterns_free(p->resources, p->nresources);
  for (size_t k = 0; k < p->nconds; k++) cond_free(&p->conds[k]);
  free(p->conds);
  free(p->name);
  free(p);
}

sec_policy *sec_policy_parse_named(const json_t *j, const char *name, char *err, size_t errlen) {
  if (name && (name[0] == '\0' || strlen(name) > SEC_NAME_MAX)) {
    set_err(err, errlen, "policy name must be 1..%d bytes", SEC_NAME_MAX);
    return NULL;
  }
  if (!json_is_object(j)) {
    set_err(err, errlen, "policy must be an object, got %s", j ? type_name(j) : "nothing");
    return NULL;
  }
  static const char *const known[] = {"actions", "resources", "effect", "conditions", NULL};
  const char *key;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)j, key, klen, v) {
    if (!key_known(key, klen, known)) {
      set_err(err, errlen, "unknown field \"%s\" (expected actions, resources, effect, conditions)",
              key);
      return NULL;
    }
  }
  sec_policy *p = calloc(1, sizeof *p);
  if (!p) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  atomic_init(&p->refs, 1);
  if (name && !(p->name = strdup(name))) {
    set_err(err, errlen, "out of memory");
    goto fail;
  }
  if (patterns_parse(json_object_get(j, "actions"), "actions", &p->actions, &p->nactions, err,
                     errlen) < 0)
    goto fail;
  if (patterns_parse(json_object_get(j, "resources"), "resources", &p->resources, &p->nresources,
                     err, errlen) < 0)
    goto fail;
  const json_t *eff = json_object_get(j, "effect");
  if (!eff) {
    set_err(err, errlen, "effect: required (\"allow\" or \"deny\")");
    goto fail;
  }
  if (json_is_string(eff) && strcmp(json_string_value(eff), "allow") == 0 &&
      json_string_length(eff) == 5) {
    p->effect = SEC_ALLOW;
  } else if (json_is_string(eff) && strcmp(json_string_value(eff), "deny") == 0 &&
             json_string_length(eff) == 4) {
    p->effect = SEC_DENY;
  } else if (json_is_string(eff)) {
    set_err(err, errlen, "effect: must be \"allow\" or \"deny\", got \"%s\"",
            json_string_value(eff));
    goto fail;
  } else {
    set_err(err, errlen, "effect: must be \"allow\" or \"deny\", got %s", type_name(eff));
    goto fail;
  }
  const json_t *conds = json_object_get(j, "conditions");
  if (conds) {
    if (!json_is_array(conds)) {
      set_err(err, errlen, "conditions: must be a list, got %s", type_name(conds));
      goto fail;
    }
    size_t n = json_array_size(conds);
    if (n) {
      p->conds = calloc(n, sizeof *p->conds);
      if (!p->conds) {
        set_err(err, errlen, "conditions: out of memory");
        goto fail;
      }
      for (size_t k = 0; k < n; k++) {
        if (cond_parse(json_array_get(conds, k), k, &p->conds[k], err, errlen) < 0) goto fail;
        p->nconds = k + 1;
      }
    }
  }
  return p;
fail:
  policy_free(p);
  return NULL;
}

sec_policy *sec_policy_parse(const json_t *j, char *err, size_t errlen) {
  return sec_policy_parse_named(j, NULL, err, errlen);
}

sec_policy *sec_policy_retain(sec_policy *p) {
  if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void sec_policy_release(sec_policy *p) {
  if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) policy_free(p);
}

const char *sec_policy_name(const sec_policy *p) { return p->name; }
sec_effect sec_policy_effect(const sec_policy *p) { return p->effect; }

static bool any_match(sec_pattern *const *v, size_t n, const char *s) {
  size_t len = strlen(s);
  for (size_t k = 0; k < n; k++)
    if (sec_pattern_match(v[k], s, len)) return true;
  return false;
}

bool sec_policy_matches(const sec_policy *p, const sec_request *req) {
  const char *action = req->action ? req->action : "";
  const char *resource = req->resource ? req->resource : "";
  if (!any_match(p->actions, p->nactions, action)) return false;
  if (!any_match(p->resources, p->nresources, resource)) return false;
  for (size_t k = 0; k < p->nconds; k++)
    if (!cond_holds(&p->conds[k], req)) return false;
  return true;
}

/* ---- actor identities ---- */

void sec_actor_clear(sec_actor *a) {
  free(a->id);
  json_decref(a->meta);
  a->id = NULL;
  a->meta = NULL;
}

int sec_actor_copy(sec_actor *dst, const sec_actor *src) {
  dst->id = NULL;
  dst->meta = NULL;
  if (src->meta && !json_is_object(src->meta)) return -1;
  if (src->id && !(dst->id = strdup(src->id))) return -1;
  if (src->meta && !(dst->meta = json_deep_copy(src->meta))) {
    sec_actor_clear(dst);
    return -1;
  }
  return 0;
}

int sec_actor_parse(const json_t *j, sec_actor *out, char *err, size_t errlen) {
  out->id = NULL;
  out->meta = NULL;
  if (!json_is_object(j)) {
    set_err(err, errlen, "actor must be an object {id, meta}, got %s",
            j ? type_name(j) : "nothing");
    return -1;
  }
  static const char *const known[] = {"id", "meta", NULL};
  const char *key;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)j, key, klen, v) {
    if (!key_known(key, klen, known)) {
      set_err(err, errlen, "unknown field \"%s\" (expected id, meta)", key);
      return -1;
    }
  }
  const json_t *id = json_object_get(j, "id"), *meta = json_object_get(j, "meta");
  if (!id) {
    set_err(err, errlen, "id: required");
    return -1;
  }
  if (!json_is_string(id) || json_string_length(id) == 0 ||
      strlen(json_string_value(id)) != json_string_length(id)) {
    set_err(err, errlen, "id: must be a non-empty string without NUL bytes, got %s",
            json_is_string(id) ? "an empty or NUL-holding string" : type_name(id));
    return -1;
  }
  if (meta && !json_is_null(meta) && !json_is_object(meta)) {
    set_err(err, errlen, "meta: must be an object, got %s", type_name(meta));
    return -1;
  }
  sec_actor src = {.id = (char *)json_string_value(id),
                   .meta = json_is_object(meta) ? (json_t *)meta : NULL};
  if (sec_actor_copy(out, &src) < 0) {
    set_err(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}
