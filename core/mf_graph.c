/* core/mf_graph.c — cycles and orders over the entries' references: services and their
 * `requires` (reported as dependency cycles, then sorted so dependencies start first), code
 * entries and their `imports` (import cycles between libraries would recurse at require time).
 *
 * The depth-first search is iterative (a hostile manifest may chain 100000 services) and visits
 * roots and edges in load order, so orders and messages are deterministic. Every back edge is
 * one reported cycle, at the reference that closes it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/manifest.h"
#include "core/mf_internal.h"

typedef struct node_key {
  const mf_entry *e;
  size_t idx;
} node_key;

typedef struct graph {
  mf_loader *ld;
  mf_pending **nodes;
  size_t n;
  node_key *keys; /* sorted by entry pointer */
  bool imports;   /* edges: imports (else lifecycle requires) */
} graph;

static int cmp_key(const void *pa, const void *pb) {
  const node_key *a = pa, *b = pb;
  return a->e < b->e ? -1 : a->e > b->e;
}

static long node_of(const graph *g, const mf_entry *e) {
  if (!e) return -1;
  node_key k = {e, 0};
  const node_key *r = bsearch(&k, g->keys, g->n, sizeof *g->keys, cmp_key);
  return r ? (long)r->idx : -1;
}

static size_t degree(const graph *g, size_t u) {
  return g->imports ? g->nodes[u]->nimports : g->nodes[u]->nrequires;
}

static const mf_ref *edge(const graph *g, size_t u, size_t k) {
  return g->imports ? &g->nodes[u]->imports[k] : &g->nodes[u]->requires[k];
}

/* Appends to buf[*o..size), keeping *o <= size - 1 (the text is cut when full). */
static void append(char *buf, size_t size, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *o, const char *fmt, ...) {
  if (*o >= size - 1) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *o, size - *o, fmt, ap);
  va_end(ap);
  *o = w < 0 || (size_t)w >= size - *o ? size - 1 : *o + (size_t)w;
}

static void report_cycle(graph *g, const size_t *stack, size_t from, size_t top, size_t u,
                         size_t k) {
  /* the cycle is stack[from..top] (stack[top] == u) closed by u's edge k back to stack[from];
   * it is written u -> stack[from] -> ... -> stack[top - 1] -> u, long ones elided */
  char msg[900];
  size_t len = top - from + 1, o = 0;
  const mf_pending *pu = g->nodes[u];
  msg[0] = '\0';
  append(msg, sizeof msg, &o, "%s", pu->e->id);
  for (size_t i = 0; i < len; i++) {
    if (len > 12 && i == 5) {
      append(msg, sizeof msg, &o, " -> ... (%zu more)", len - 10);
      i = len - 5;
    }
    const char *id = i == len - 1 ? pu->e->id : g->nodes[stack[from + i]]->e->id;
    append(msg, sizeof msg, &o, " -> %s", id);
  }
  mf_ctx c = {g->ld, pu->e->file, pu->e->doc, pu->e->id, pu->e->ns};
  const mf_ref *r = edge(g, u, k);
  if (g->imports)
    mf_err(&c, r->pos, "imports.%s: import cycle: %s", pu->e->imports[k].alias, msg);
  else
    mf_err(&c, r->pos, "%s: dependency cycle: %s", r->field ? r->field : "lifecycle.requires",
           msg);
}

/* Depth-first search from every node in order; post receives the nodes in post-order
 * (dependencies before their dependents). Returns false when out of memory. */
static bool dfs(graph *g, size_t *post) {
  size_t n = g->n, npost = 0;
  unsigned char *color = calloc(n ? n : 1, 1);  /* 0 new, 1 on the stack, 2 done */
  size_t *stack = malloc((n ? n : 1) * sizeof *stack);
  size_t *next = malloc((n ? n : 1) * sizeof *next);   /* next edge to follow, per stack slot */
  size_t *spos = malloc((n ? n : 1) * sizeof *spos);   /* stack slot of a node on the stack */
  bool ok = color && stack && next && spos;
  for (size_t root = 0; ok && root < n; root++) {
    if (color[root]) continue;
    size_t top = 0;
    stack[0] = root;
    next[0] = 0;
    spos[root] = 0;
    color[root] = 1;
    for (;;) {
      size_t u = stack[top];
      if (next[top] < degree(g, u)) {
        size_t k = next[top]++;
        long t = node_of(g, edge(g, u, k)->target);
        if (t < 0) continue;
        if (color[t] == 0) {
          color[t] = 1;
          stack[++top] = (size_t)t;
          next[top] = 0;
          spos[t] = top;
        } else if (color[t] == 1) {
          report_cycle(g, stack, spos[t], top, u, k);
        }
        continue;
      }
      color[u] = 2;
      if (post) post[npost++] = u;
      if (top == 0) break;
      top--;
    }
  }
  free(color);
  free(stack);
  free(next);
  free(spos);
  return ok;
}

static bool graph_init(graph *g, mf_loader *ld, bool imports) {
  memset(g, 0, sizeof *g);
  g->ld = ld;
  g->imports = imports;
  size_t n = 0;
  for (size_t i = 0; i < ld->npend; i++) {
    const mf_pending *p = &ld->pend[i];
    if (p->dup) continue;
    if (imports ? p->nimports > 0 || p->e->kind == MF_LIBRARY_LUA
                : p->e->kind == MF_PROCESS_SERVICE)
      n++;
  }
  g->nodes = malloc((n ? n : 1) * sizeof *g->nodes);
  g->keys = malloc((n ? n : 1) * sizeof *g->keys);
  if (!g->nodes || !g->keys) return false;
  for (size_t i = 0; i < ld->npend; i++) {
    mf_pending *p = &ld->pend[i];
    if (p->dup) continue;
    if (imports ? p->nimports > 0 || p->e->kind == MF_LIBRARY_LUA
                : p->e->kind == MF_PROCESS_SERVICE) {
      g->keys[g->n].e = p->e;
      g->keys[g->n].idx = g->n;
      g->nodes[g->n++] = p;
    }
  }
  qsort(g->keys, g->n, sizeof *g->keys, cmp_key);
  return true;
}

static void graph_free(graph *g) {
  free(g->nodes);
  free(g->keys);
}

void mf_graph(mf_loader *ld) {
  mf_app *app = ld->app;
  graph g;
  if (graph_init(&g, ld, true)) dfs(&g, NULL);
  graph_free(&g);

  if (!graph_init(&g, ld, false)) {
    graph_free(&g);
    return;
  }
  size_t *post = malloc((g.n ? g.n : 1) * sizeof *post);
  bool *needed = calloc(g.n ? g.n : 1, sizeof *needed);
  size_t *queue = malloc((g.n ? g.n : 1) * sizeof *queue);
  const mf_entry **services = mf_alloc(ld->ar, (g.n + 1) * sizeof *services);
  const mf_entry **start = mf_alloc(ld->ar, (g.n + 1) * sizeof *start);
  if (post && needed && queue && services && start && dfs(&g, post)) {
    /* what auto-start pulls in: the auto_start services and, transitively, what they require */
    size_t qn = 0;
    for (size_t i = 0; i < g.n; i++)
      if (g.nodes[i]->e->lifecycle.auto_start) needed[i] = true, queue[qn++] = i;
    while (qn) {
      size_t u = queue[--qn];
      for (size_t k = 0; k < g.nodes[u]->nrequires; k++) {
        long t = node_of(&g, g.nodes[u]->requires[k].target);
        if (t >= 0 && !needed[t]) needed[t] = true, queue[qn++] = (size_t)t;
      }
    }
    for (size_t i = 0; i < g.n; i++) {
      const mf_entry *e = g.nodes[post[i]]->e;
      services[app->nservices++] = e;
      if (needed[post[i]]) start[app->nstart++] = e;
    }
    app->services = services;
    app->start_order = start;
  }
  free(post);
  free(needed);
  free(queue);
  graph_free(&g);
}
