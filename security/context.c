/* security/context.c — security contexts and the allow/deny decision (context.h). */
#include "security/context.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sec_context {
  _Atomic size_t refs;
  bool immortal;
  bool has_actor;
  unsigned flags;
  sec_actor actor;
  sec_scope *scope;
};

static sec_context operator_ctx = {
    .refs = 1, .immortal = true, .has_actor = false, .flags = SEC_CTX_OPERATOR, .scope = NULL};

sec_context *sec_context_operator(void) { return &operator_ctx; }

sec_context *sec_context_new(const sec_actor *actor, sec_scope *scope, unsigned flags) {
  sec_context *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  atomic_init(&c->refs, 1);
  c->flags = flags & (SEC_CTX_OPERATOR | SEC_CTX_STRICT);
  if (actor && actor->id) {
    if (sec_actor_copy(&c->actor, actor) < 0) {
      free(c);
      return NULL;
    }
    c->has_actor = true;
  }
  c->scope = sec_scope_retain(scope);
  return c;
}

sec_context *sec_context_retain(sec_context *c) {
  if (c && !c->immortal) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void sec_context_release(sec_context *c) {
  if (!c || c->immortal) return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  sec_actor_clear(&c->actor);
  sec_scope_release(c->scope);
  free(c);
}

const sec_actor *sec_context_actor(const sec_context *c) {
  return c && c->has_actor ? &c->actor : NULL;
}
const sec_scope *sec_context_scope(const sec_context *c) { return c ? c->scope : NULL; }
unsigned sec_context_flags(const sec_context *c) { return c ? c->flags : 0; }

/* Longest fixed text of a reason below, plus the two variable parts and a policy name. */
#define REASON_FIXED 96

size_t sec_reason_size(const char *action, const char *resource) {
  return (action ? strlen(action) : 0) + (resource ? strlen(resource) : 0) + SEC_NAME_MAX +
         REASON_FIXED;
}

static bool decide(bool ok, char *reason, size_t reasonlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool decide(bool ok, char *reason, size_t reasonlen, const char *fmt, ...) {
  if (reason && reasonlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, reasonlen, fmt, ap);
    va_end(ap);
  }
  return ok;
}

bool sec_allowed(const sec_context *ctx, const char *action, const char *resource, json_t *meta,
                 char *reason, size_t reasonlen) {
  if (!action) action = "";
  if (!resource) resource = "";
  if (!ctx)
    return decide(false, reason, reasonlen, "no security context: %s on \"%s\" is denied",
                  action, resource);
  if (ctx->flags & SEC_CTX_OPERATOR)
    return decide(true, reason, reasonlen, "operator context: everything is allowed");
  if (!ctx->scope) {
    if (ctx->flags & SEC_CTX_STRICT)
      return decide(false, reason, reasonlen,
                    "no security scope granted: strict mode denies %s on \"%s\"", action,
                    resource);
    return decide(true, reason, reasonlen, "no security scope granted and strict mode is off");
  }
  sec_request req = {
      .actor = ctx->has_actor ? &ctx->actor : NULL,
      .action = action,
      .resource = resource,
      .meta = json_is_object(meta) ? meta : NULL,
  };
  const sec_policy *p;
  sec_effect e = sec_scope_decide(ctx->scope, &req, &p);
  if (!p) return decide(false, reason, reasonlen, "no policy allows %s on \"%s\"", action, resource);
  const char *name = sec_policy_name(p);
  const char *verb = e == SEC_ALLOW ? "allows" : "denies";
  if (name)
    return decide(e == SEC_ALLOW, reason, reasonlen, "policy \"%s\" %s %s on \"%s\"", name, verb,
                  action, resource);
  return decide(e == SEC_ALLOW, reason, reasonlen, "an unnamed policy %s %s on \"%s\"", verb,
                action, resource);
}
