/* net/idmap.c — the net thread's id -> object hash map (see idmap.h). */
#include "net/idmap.h"
#include <stdlib.h>

#define IDMAP_MIN_SHIFT (64 - 6)

static size_t bucket_of(unsigned shift, uint64_t id) {
  return (size_t)((id * 0x9E3779B97F4A7C15ull) >> shift);
}

int net_idmap_init(net_idmap *m) {
  m->shift = IDMAP_MIN_SHIFT;
  m->count = 0;
  m->buckets = calloc((size_t)1 << (64 - m->shift), sizeof *m->buckets);
  return m->buckets ? 0 : -1;
}

void net_idmap_free(net_idmap *m) {
  free(m->buckets);
  m->buckets = NULL;
  m->count = 0;
}

static void grow(net_idmap *m) {
  unsigned shift = m->shift - 1;
  size_t n = (size_t)1 << (64 - shift), old = (size_t)1 << (64 - m->shift);
  net_idnode **b = calloc(n, sizeof *b);
  if (!b) return;
  for (size_t i = 0; i < old; i++) {
    net_idnode *e = m->buckets[i];
    while (e) {
      net_idnode *next = e->next;
      size_t h = bucket_of(shift, e->id);
      e->next = b[h];
      b[h] = e;
      e = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->shift = shift;
}

void net_idmap_put(net_idmap *m, net_idnode *n) {
  if (m->count >= ((size_t)1 << (64 - m->shift)) && m->shift > 32) grow(m);
  size_t h = bucket_of(m->shift, n->id);
  n->next = m->buckets[h];
  m->buckets[h] = n;
  m->count++;
}

net_idnode *net_idmap_get(const net_idmap *m, uint64_t id) {
  net_idnode *e = m->buckets[bucket_of(m->shift, id)];
  while (e && e->id != id) e = e->next;
  return e;
}

net_idnode *net_idmap_remove(net_idmap *m, uint64_t id) {
  net_idnode **p = &m->buckets[bucket_of(m->shift, id)];
  while (*p && (*p)->id != id) p = &(*p)->next;
  net_idnode *e = *p;
  if (e) {
    *p = e->next;
    e->next = NULL;
    m->count--;
  }
  return e;
}

void net_idmap_clear(net_idmap *m, void (*fn)(net_idnode *n, void *ud), void *ud) {
  size_t n = (size_t)1 << (64 - m->shift);
  for (size_t i = 0; i < n; i++) {
    net_idnode *e = m->buckets[i];
    m->buckets[i] = NULL;
    while (e) {
      net_idnode *next = e->next;
      e->next = NULL;
      fn(e, ud);
      e = next;
    }
  }
  m->count = 0;
}
