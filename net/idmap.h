/* net/idmap.h — intrusive hash map from uint64 ids to objects, for the net thread's tables
 * (timers now, connections next). Chained buckets, Fibonacci hashing, doubling at load 1, so
 * lookups stay O(1) for sequential ids from net_new_id. Not thread-safe: one owner. */
#ifndef WISP_NET_IDMAP_H
#define WISP_NET_IDMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct net_idnode {
  uint64_t id;
  struct net_idnode *next;
} net_idnode;

typedef struct net_idmap {
  net_idnode **buckets;
  unsigned shift; /* 64 - log2(bucket count) */
  size_t count;
} net_idmap;

int net_idmap_init(net_idmap *m);      /* 0, or -1 when out of memory */
void net_idmap_free(net_idmap *m);     /* frees the table, not the nodes */
/* Inserts n (n->id set by the caller; ids must be unique). Never fails: when growing the
 * table is impossible the chains just get longer. */
void net_idmap_put(net_idmap *m, net_idnode *n);
net_idnode *net_idmap_get(const net_idmap *m, uint64_t id);
net_idnode *net_idmap_remove(net_idmap *m, uint64_t id); /* the removed node, or NULL */
/* Empties the map, handing each node to fn (which may free it but must not use the map). */
void net_idmap_clear(net_idmap *m, void (*fn)(net_idnode *n, void *ud), void *ud);
static inline size_t net_idmap_count(const net_idmap *m) { return m->count; }

#endif
