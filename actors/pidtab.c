/* actors/pidtab.c — pid -> actor table, sharded by pid so that spawns and lookups on different
 * workers rarely contend. Each shard is an open-addressing table with linear probing and
 * backward-shift deletion; an entry holds no reference (actors remove themselves when they end,
 * before their last reference can go), lookups return a retained actor. */
#include "actors/pidtab.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64

typedef struct shard {
  pthread_mutex_t mu;
  actor **slots;
  size_t cap, len;
} shard;

static shard shards[SHARDS];
static _Atomic uint64_t next_pid = 1;
static _Atomic size_t live;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_shards(void) {
  for (int i = 0; i < SHARDS; i++) pthread_mutex_init(&shards[i].mu, NULL);
}

static size_t hash_pid(uint64_t pid, size_t cap) {
  uint64_t h = (pid / SHARDS) * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (cap - 1);
}

static void shard_insert(shard *s, actor *a) {
  size_t i = hash_pid(a->pid, s->cap);
  while (s->slots[i]) i = (i + 1) & (s->cap - 1);
  s->slots[i] = a;
  s->len++;
}

static void shard_grow(shard *s) {
  actor **old = s->slots;
  size_t ocap = s->cap;
  s->cap = ocap ? ocap * 2 : 64;
  s->slots = calloc(s->cap, sizeof *s->slots);
  if (!s->slots) abort();
  s->len = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i]) shard_insert(s, old[i]);
  free(old);
}

uint64_t pidtab_add(actor *a) {
  pthread_once(&init_once, init_shards);
  uint64_t pid = atomic_fetch_add(&next_pid, 1);
  a->pid = pid;
  shard *s = &shards[pid % SHARDS];
  pthread_mutex_lock(&s->mu);
  if ((s->len + 1) * 4 > s->cap * 3) shard_grow(s);
  shard_insert(s, a);
  pthread_mutex_unlock(&s->mu);
  atomic_fetch_add(&live, 1);
  return pid;
}

void pidtab_remove(actor *a) {
  shard *s = &shards[a->pid % SHARDS];
  pthread_mutex_lock(&s->mu);
  if (s->cap) {
    size_t i = hash_pid(a->pid, s->cap);
    while (s->slots[i] && s->slots[i] != a) i = (i + 1) & (s->cap - 1);
    if (s->slots[i] == a) {
      s->slots[i] = NULL;
      s->len--;
      atomic_fetch_sub(&live, 1);
      /* backward-shift the cluster that follows so probes stay unbroken */
      size_t j = (i + 1) & (s->cap - 1);
      while (s->slots[j]) {
        actor *m = s->slots[j];
        s->slots[j] = NULL;
        s->len--;
        shard_insert(s, m);
        j = (j + 1) & (s->cap - 1);
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
}

actor *actor_lookup(uint64_t pid) {
  pthread_once(&init_once, init_shards);
  shard *s = &shards[pid % SHARDS];
  actor *found = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->cap) {
    size_t i = hash_pid(pid, s->cap);
    while (s->slots[i]) {
      if (s->slots[i]->pid == pid) {
        found = s->slots[i];
        actor_retain(found);
        break;
      }
      i = (i + 1) & (s->cap - 1);
    }
  }
  pthread_mutex_unlock(&s->mu);
  return found;
}

size_t actor_count(void) { return atomic_load(&live); }

/* Hand-rolled: it runs for every message sent and received (snprintf was ~10% of a
 * ping-pong between two actors). */
void actor_format_pid(uint64_t pid, char *out, size_t outlen) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + pid % 10);
    pid /= 10;
  } while (pid);
  size_t need = (size_t)n + 5; /* "<0." digits ">" NUL */
  if (outlen < need) {
    if (outlen) out[0] = 0;
    return;
  }
  memcpy(out, "<0.", 3);
  for (int i = 0; i < n; i++) out[3 + i] = digits[n - 1 - i];
  out[3 + n] = '>';
  out[4 + n] = 0;
}

bool actor_parse_pid(const char *s, size_t len, uint64_t *pid) {
  if (len < 5 || memcmp(s, "<0.", 3) != 0 || s[len - 1] != '>') return false;
  uint64_t v = 0;
  for (size_t i = 3; i < len - 1; i++) {
    if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (!v) return false;
  *pid = v;
  return true;
}

void pidtab_foreach(void (*fn)(actor *a, void *ud), void *ud) {
  pthread_once(&init_once, init_shards);
  for (int i = 0; i < SHARDS; i++) {
    shard *s = &shards[i];
    pthread_mutex_lock(&s->mu);
    size_t n = 0;
    actor **copy = s->len ? malloc(sizeof *copy * s->len) : NULL;
    for (size_t j = 0; j < s->cap && copy; j++)
      if (s->slots[j]) {
        actor_retain(s->slots[j]);
        copy[n++] = s->slots[j];
      }
    pthread_mutex_unlock(&s->mu);
    for (size_t j = 0; j < n; j++) {
      fn(copy[j], ud);
      actor_release(copy[j]);
    }
    free(copy);
  }
}
