/* security/context.h — what an actor carries: its identity, its scope and its mode; and the
 * one question every module asks before it acts (DESIGN.md "Security").
 *
 * A context is immutable and atomically refcounted. A spawned actor inherits its parent's
 * context unchanged (retain it); a service gets a new one built from its manifest entry.
 * Modes:
 *   SEC_CTX_OPERATOR  everything is allowed (`wisp exec`, `wisp run -x`)
 *   SEC_CTX_STRICT    without a scope everything is denied (the `wisp run` default); without
 *                     this flag and without a scope everything is allowed (manifest
 *                     `security: {strict: false}`)
 * With a scope, the scope decides: any matching deny → deny; else any matching allow → allow;
 * else deny. */
#ifndef WISP_SECURITY_CONTEXT_H
#define WISP_SECURITY_CONTEXT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "security/policy.h"
#include "security/scope.h"

#define SEC_CTX_OPERATOR 0x1u
#define SEC_CTX_STRICT 0x2u

typedef struct sec_context sec_context;

/* A new context holding one reference. actor (NULL, or id NULL = no identity) is deep-copied;
 * scope (nullable) is retained. Returns NULL when out of memory or when actor->meta is
 * neither NULL nor an object. */
sec_context *sec_context_new(const sec_actor *actor, sec_scope *scope, unsigned flags);
/* The process-wide operator context (no identity, everything allowed). It is never freed;
 * retain and release are no-ops on it. */
sec_context *sec_context_operator(void);
sec_context *sec_context_retain(sec_context *c);
void sec_context_release(sec_context *c);

/* The identity, or NULL when the context has none (borrowed, read-only). */
const sec_actor *sec_context_actor(const sec_context *c);
/* The scope, or NULL (borrowed). */
const sec_scope *sec_context_scope(const sec_context *c);
unsigned sec_context_flags(const sec_context *c);

/* May the context's actor perform action on resource? meta is the request's metadata (NULL or
 * an object; other values count as absent); action and resource NULL count as "". A NULL
 * context is denied (fail closed). When reason is not NULL it receives why, e.g.
 *   policy "app:no_admin" denies process.spawn on "app:admin_panel"
 *   no policy allows websocket.connect.url on "wss://evil.example.org/"
 *   no security scope granted: strict mode denies env.get on "HOME"
 *   operator context: everything is allowed
 * truncated to reasonlen; sec_reason_size gives a length that never truncates. Thread-safe,
 * lock-free, allocation-free. */
bool sec_allowed(const sec_context *ctx, const char *action, const char *resource, json_t *meta,
                 char *reason, size_t reasonlen);
size_t sec_reason_size(const char *action, const char *resource);

#endif
