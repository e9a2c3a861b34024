/* actors/names.c — see names.h. A chained hash table under one mutex: registrations are rare
 * next to messages, and lookups are cached by nobody (a name may move to a new pid). */
#include "actors/names.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct name_entry {
  struct name_entry *next;
  uint64_t pid;
  char name[];
} name_entry;

#define NBUCKETS 1024

static name_entry *buckets[NBUCKETS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t count;

static unsigned hash_name(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % NBUCKETS;
}

int names_register(const char *name, uint64_t pid) {
  size_t len = strlen(name);
  if (len == 0 || len > NAMES_MAX_LEN || name[0] == '<') return -1;
  unsigned h = hash_name(name);
  pthread_mutex_lock(&mu);
  for (name_entry *e = buckets[h]; e; e = e->next)
    if (strcmp(e->name, name) == 0) {
      pthread_mutex_unlock(&mu);
      return 1;
    }
  name_entry *e = malloc(sizeof *e + len + 1);
  if (!e) abort();
  e->pid = pid;
  memcpy(e->name, name, len + 1);
  e->next = buckets[h];
  buckets[h] = e;
  count++;
  pthread_mutex_unlock(&mu);
  return 0;
}

uint64_t names_lookup(const char *name) {
  unsigned h = hash_name(name);
  uint64_t pid = 0;
  pthread_mutex_lock(&mu);
  for (name_entry *e = buckets[h]; e; e = e->next)
    if (strcmp(e->name, name) == 0) {
      pid = e->pid;
      break;
    }
  pthread_mutex_unlock(&mu);
  return pid;
}

bool names_unregister(const char *name) {
  unsigned h = hash_name(name);
  bool found = false;
  pthread_mutex_lock(&mu);
  for (name_entry **pp = &buckets[h]; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, name) == 0) {
      name_entry *e = *pp;
      *pp = e->next;
      free(e);
      count--;
      found = true;
      break;
    }
  pthread_mutex_unlock(&mu);
  return found;
}

void names_release_pid(uint64_t pid) {
  pthread_mutex_lock(&mu);
  if (count) {
    for (int b = 0; b < NBUCKETS; b++)
      for (name_entry **pp = &buckets[b]; *pp;) {
        if ((*pp)->pid == pid) {
          name_entry *e = *pp;
          *pp = e->next;
          free(e);
          count--;
        } else {
          pp = &(*pp)->next;
        }
      }
  }
  pthread_mutex_unlock(&mu);
}
