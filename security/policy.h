/* security/policy.h — one security policy: which actions on which resources it allows or
 * denies, under which conditions (SPEC.md "security").
 *
 * Source form (a jansson value, as loaded from a YAML or JSON manifest):
 *   { actions:    pattern | [pattern, ...],          required, non-empty
 *     resources:  pattern | [pattern, ...],          required, non-empty
 *     effect:     "allow" | "deny",                  required
 *     conditions: [ {field, operator, value | value_from}, ... ] }   optional, all must hold
 * Patterns are security/pattern.h globs. Condition fields: "action", "resource", "actor.id",
 * "actor.meta", "actor.meta.<key>[.<key>...]", "meta", "meta.<key>[.<key>...]" (meta = the
 * request's metadata); dotted keys walk nested objects. value_from names another such field
 * whose value is compared instead of a literal.
 *
 * Operators and their truth (a = the field's value, b = value or value_from's value):
 *   exists / nexists      a is present (JSON null counts as absent) / a is absent
 *   eq / ne               a equals b / a differs from b (numbers compare by value, 1 == 1.0;
 *                         arrays and objects compare deeply)
 *   lt gt lte gte         both numbers, or both strings (bytewise order)
 *   in / nin              b is an array; a equals one of its elements / none of them
 *   contains / ncontains  a string and b string: substring; a array: an element equals b
 *   matches / nmatches    a string; POSIX extended regex b (unanchored: use ^ $), compiled
 *                         at parse time, so matches takes a literal value only
 * Every operator but exists/nexists is false when a or b is absent or the types do not fit the
 * operator — negated ones included: `ne`, `nin`, `ncontains`, `nmatches` are true only when both
 * sides are there and of the right type. So a deny whose condition cannot be evaluated does not
 * apply; write isolation rules as allow + eq (fail closed), or pair a negated deny condition
 * with an explicit nexists deny.
 *
 * A parsed policy is immutable and refcounted (atomically): scopes on many threads share it. */
#ifndef WISP_SECURITY_POLICY_H
#define WISP_SECURITY_POLICY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SEC_NAME_MAX 256 /* longest policy name (an entry id such as "app.sec:allow_ws") */

typedef enum sec_effect { SEC_ALLOW, SEC_DENY } sec_effect;

/* An actor identity. id NULL = no actor (operator code); meta NULL or an object. */
typedef struct sec_actor {
  char *id;
  json_t *meta;
} sec_actor;

/* The question a policy answers. action and resource are NUL-terminated; the resource is
 * already normalised by the caller (URLs through net/url.h). meta: NULL or an object. */
typedef struct sec_request {
  const sec_actor *actor; /* NULL = no actor */
  const char *action;
  const char *resource;
  const json_t *meta;
} sec_request;

typedef struct sec_policy sec_policy;

/* Parses and compiles a policy; the result holds one reference. On error returns NULL and
 * writes a message naming the offending field to err, e.g.
 *   conditions[1].operator: unknown operator "equals" (expected one of eq ne ...)
 *   effect: must be "allow" or "deny", got "permit"
 * (paths are relative to the policy object; err may be NULL, errlen 0). */
sec_policy *sec_policy_parse(const json_t *j, char *err, size_t errlen);
/* The same, with a name (normally the manifest entry id) that decisions report. The name must
 * be 1..SEC_NAME_MAX bytes. */
sec_policy *sec_policy_parse_named(const json_t *j, const char *name, char *err, size_t errlen);

sec_policy *sec_policy_retain(sec_policy *p);
void sec_policy_release(sec_policy *p);

/* The name given at parse time, or NULL. */
const char *sec_policy_name(const sec_policy *p);
sec_effect sec_policy_effect(const sec_policy *p);

/* True when the request's action and resource match and every condition holds. Thread-safe:
 * reads only. */
bool sec_policy_matches(const sec_policy *p, const sec_request *req);

/* Reads a manifest actor identity {id: string, meta: object?} into out (deep copies, free with
 * sec_actor_clear). Returns 0, or -1 with a message naming the field. */
int sec_actor_parse(const json_t *j, sec_actor *out, char *err, size_t errlen);
/* Deep-copies src into dst (dst empty on entry): 0, or -1 when out of memory or when src->meta
 * is neither NULL nor an object. */
int sec_actor_copy(sec_actor *dst, const sec_actor *src);
void sec_actor_clear(sec_actor *a);

#endif
