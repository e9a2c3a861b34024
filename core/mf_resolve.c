/* core/mf_resolve.c — the references between entries, checked once every manifest is read:
 * service → process.lua and process.host, imports → library.lua, requires → process.service,
 * security groups → a group some policy declares, security policies → security.policy. Also
 * builds the policy groups (app->groups). A reference that does not resolve to an entry of the
 * right kind is reported where it is written. */
#include <stdlib.h>
#include <string.h>
#include "core/manifest.h"
#include "core/mf_internal.h"

static const mf_entry *resolve(mf_loader *ld, mf_ctx *c, mf_ref *r, const char *field,
                               mf_kind want) {
  if (!r->id) return NULL;
  if (r->field) field = r->field;
  const mf_entry *t = mf_find(ld->app, r->id);
  if (!t) {
    mf_err(c, r->pos, "%s: unknown entry \"%.200s\"", field, r->id);
    return NULL;
  }
  if (t->kind != want) {
    mf_err(c, r->pos, "%s: \"%.200s\" is a %s entry, expected a %s", field, r->id,
           mf_kind_name(t->kind), mf_kind_name(want));
    return NULL;
  }
  r->target = t;
  return t;
}

typedef struct group_member {
  const char *id;
  const mf_entry *policy;
  size_t order;
} group_member;

static int cmp_member(const void *pa, const void *pb) {
  const group_member *a = pa, *b = pb;
  int c = strcmp(a->id, b->id);
  if (c) return c;
  return a->order < b->order ? -1 : a->order > b->order;
}

static void build_groups(mf_loader *ld) {
  mf_app *app = ld->app;
  size_t n = 0;
  for (size_t i = 0; i < ld->npend; i++)
    if (!ld->pend[i].dup && ld->pend[i].e->kind == MF_SECURITY_POLICY) n += ld->pend[i].e->ngroups;
  if (!n) return;
  group_member *m = malloc(n * sizeof *m);
  if (!m) return;
  size_t k = 0;
  for (size_t i = 0; i < ld->npend; i++) {
    const mf_entry *e = ld->pend[i].e;
    if (ld->pend[i].dup || e->kind != MF_SECURITY_POLICY) continue;
    for (size_t g = 0; g < e->ngroups; g++) {
      m[k].id = e->groups[g];
      m[k].policy = e;
      m[k].order = k;
      k++;
    }
  }
  qsort(m, n, sizeof *m, cmp_member);
  size_t ngroups = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || strcmp(m[i].id, m[i - 1].id) != 0) ngroups++;
  mf_group *groups = mf_alloc(ld->ar, ngroups * sizeof *groups);
  const mf_entry **pols = mf_alloc(ld->ar, n * sizeof *pols);
  if (groups && pols) {
    size_t gi = 0;
    for (size_t i = 0; i < n; i++) {
      if (i == 0 || strcmp(m[i].id, m[i - 1].id) != 0) {
        groups[gi].id = m[i].id;
        groups[gi].policies = &pols[i];
        gi++;
      }
      pols[i] = m[i].policy;
      groups[gi - 1].npolicies++;
    }
    app->groups = groups;
    app->ngroups = ngroups;
  }
  free(m);
}

void mf_resolve(mf_loader *ld) {
  build_groups(ld);
  for (size_t i = 0; i < ld->npend; i++) {
    mf_pending *p = &ld->pend[i];
    mf_entry *e = p->e;
    mf_ctx c = {ld, e->file, e->doc, e->id, e->ns};

    if (e->kind == MF_PROCESS_SERVICE) {
      e->process = resolve(ld, &c, &p->process, "process", MF_PROCESS_LUA);
      e->svc_host = resolve(ld, &c, &p->host, "host", MF_PROCESS_HOST);

      const mf_entry **req = mf_alloc(ld->ar, (p->nrequires + 1) * sizeof *req);
      for (size_t k = 0; req && k < p->nrequires; k++) {
        const mf_entry *t = resolve(ld, &c, &p->requires[k], "lifecycle.requires",
                                    MF_PROCESS_SERVICE);
        if (t) req[e->lifecycle.nrequires++] = t;
      }
      e->lifecycle.requires = req;

      mf_security *sec = &e->lifecycle.security;
      const char **groups = mf_alloc(ld->ar, (p->nsec_groups + 1) * sizeof *groups);
      for (size_t k = 0; groups && k < p->nsec_groups; k++) {
        if (!mf_find_group(ld->app, p->sec_groups[k].id))
          mf_err(&c, p->sec_groups[k].pos,
                 "lifecycle.security.groups: no security.policy declares the group \"%.200s\"",
                 p->sec_groups[k].id);
        else
          groups[sec->ngroups++] = p->sec_groups[k].id;
      }
      sec->groups = groups;
      const mf_entry **pols = mf_alloc(ld->ar, (p->nsec_policies + 1) * sizeof *pols);
      for (size_t k = 0; pols && k < p->nsec_policies; k++) {
        const mf_entry *t = resolve(ld, &c, &p->sec_policies[k], "lifecycle.security.policies",
                                    MF_SECURITY_POLICY);
        if (t) pols[sec->npolicies++] = t;
      }
      sec->policies = pols;
    }

    if (e->kind == MF_PROCESS_LUA || e->kind == MF_FUNCTION_LUA || e->kind == MF_LIBRARY_LUA) {
      mf_import *im = (mf_import *)e->imports;
      for (size_t k = 0; k < p->nimports; k++) {
        char field[200];
        snprintf(field, sizeof field, "imports.%.150s", im[k].alias);
        im[k].target = resolve(ld, &c, &p->imports[k], field, MF_LIBRARY_LUA);
      }
    }
  }
}
