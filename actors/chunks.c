/* actors/chunks.c — see chunks.h. One mutex; compilation happens outside it in a scratch state
 * and the first result wins, so a slow compile never blocks other spawns. */
#include "actors/chunks.h"
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"

typedef struct chunk {
  struct chunk *next;
  char *key;
  char *code;
  size_t len;
} chunk;

static chunk *cache;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static const chunk *find(const char *key) {
  for (chunk *c = cache; c; c = c->next)
    if (strcmp(c->key, key) == 0) return c;
  return NULL;
}

static int writer(lua_State *L, const void *p, size_t sz, void *ud) {
  wbuf_append(ud, p, sz);
  return 0;
}

static const char *insert(const char *key, wbuf *code, size_t *len) {
  pthread_mutex_lock(&mu);
  const chunk *c = find(key);
  if (!c) {
    chunk *n = malloc(sizeof *n);
    if (!n) abort();
    n->key = strdup(key);
    n->code = wbuf_detach(code, &n->len);
    n->next = cache;
    cache = n;
    c = n;
  } else {
    wbuf_free(code);
  }
  pthread_mutex_unlock(&mu);
  *len = c->len;
  return c->code;
}

static const char *compile(const char *key, int (*load)(lua_State *, void *), void *ud,
                           size_t *len, char *err, size_t errlen) {
  pthread_mutex_lock(&mu);
  const chunk *c = find(key);
  pthread_mutex_unlock(&mu);
  if (c) {
    *len = c->len;
    return c->code;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (load(L, ud) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  wbuf code = WBUF_INIT;
  lua_dump(L, writer, &code, 0); /* keep debug info: tracebacks need lines */
  lua_close(L);
  return insert(key, &code, len);
}

static int load_file(lua_State *L, void *ud) {
  const char *path = ud;
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
    return LUA_ERRFILE;
  }
  fclose(f);
  return luaL_loadfilex(L, path, "t");
}

const char *chunks_file(const char *path, size_t *len, char *err, size_t errlen) {
  return compile(path, load_file, (void *)path, len, err, errlen);
}

typedef struct src_args {
  const char *name, *src;
  size_t len;
} src_args;

static int load_src(lua_State *L, void *ud) {
  src_args *a = ud;
  return luaL_loadbufferx(L, a->src, a->len, a->name, "t");
}

const char *chunks_source(const char *key, const char *chunkname, const char *src, size_t srclen,
                          size_t *len, char *err, size_t errlen) {
  src_args a = {chunkname, src, srclen};
  return compile(key, load_src, &a, len, err, errlen);
}

void chunks_clear(void) {
  pthread_mutex_lock(&mu);
  while (cache) {
    chunk *c = cache;
    cache = c->next;
    free(c->key);
    free(c->code);
    free(c);
  }
  pthread_mutex_unlock(&mu);
}
