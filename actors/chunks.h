/* actors/chunks.h — compiled chunks, cached for the life of the process: a chunk is compiled
 * once (text only) and every spawn loads the cached bytecode. */
#ifndef WISP_CHUNKS_H
#define WISP_CHUNKS_H
#include <stddef.h>

/* Bytecode for the Lua source file at path (compiled on first use). NULL with a message in
 * err when unreadable or not valid Lua. The returned memory lives until chunks_clear. */
const char *chunks_file(const char *path, size_t *len, char *err, size_t errlen);
/* Bytecode for source text under a cache key (e.g. an entry id). */
const char *chunks_source(const char *key, const char *chunkname, const char *src, size_t srclen,
                          size_t *len, char *err, size_t errlen);
void chunks_clear(void);

#endif
