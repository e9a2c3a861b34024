/* security/scope.h — scopes (the set of policies an actor is granted) and the registry that
 * builds them from the manifest's named policies and groups.
 *
 * A scope is built by one thread (sec_scope_new, sec_scope_add_policy) and is immutable from
 * the moment it is shared: evaluation only reads it, so actors on any number of workers check
 * the same scope at once with no lock. Reference counts are atomic. */
#ifndef WISP_SECURITY_SCOPE_H
#define WISP_SECURITY_SCOPE_H
#include <stdbool.h>
#include <stddef.h>
#include "security/policy.h"

typedef struct sec_scope sec_scope;

/* An empty scope (denies everything) holding one reference; NULL when out of memory. */
sec_scope *sec_scope_new(void);
/* Adds p (retained) to the scope; adding a policy that is already there does nothing, so a
 * scope is the union of what it is given. Only while the caller holds the sole reference
 * (before the scope is shared): returns -1 when shared or out of memory, 0 otherwise. */
int sec_scope_add_policy(sec_scope *s, sec_policy *p);
size_t sec_scope_count(const sec_scope *s);
sec_scope *sec_scope_retain(sec_scope *s);
void sec_scope_release(sec_scope *s);

/* The decision for req: any matching deny policy → SEC_DENY with *decider set to it; else the
 * first matching allow policy → SEC_ALLOW with *decider set to it; else SEC_DENY with
 * *decider NULL. Thread-safe. */
sec_effect sec_scope_decide(const sec_scope *s, const sec_request *req,
                            const sec_policy **decider);

/* The manifest's security.policy entries: every named policy with the groups it belongs to. */
typedef struct sec_registry sec_registry;

sec_registry *sec_registry_new(void);
void sec_registry_free(sec_registry *r);
/* Registers the named policy p (retained) as a member of groups[0..ngroups). Returns 0, or -1
 * with a message when p has no name, the name is already registered, a group name is empty,
 * or memory runs out. */
int sec_registry_add(sec_registry *r, sec_policy *p, const char *const *groups, size_t ngroups,
                     char *err, size_t errlen);
/* The registered policy with this name, or NULL (borrowed). */
sec_policy *sec_registry_find(const sec_registry *r, const char *name);
/* Builds the scope granted to a service: the union of every policy in groups[0..ngroups) and
 * the policies named in policies[0..npolicies). A group no policy belongs to and an unknown
 * policy name are errors (a typo must not silently grant less, or more): NULL with a message
 * naming it. */
sec_scope *sec_registry_scope(const sec_registry *r, const char *const *groups, size_t ngroups,
                              const char *const *policies, size_t npolicies, char *err,
                              size_t errlen);

#endif
