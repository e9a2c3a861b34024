/* core/mf_internal.h — what the manifest loader's files share (not a public API): the model's
 * arena, the loader state, and the per-entry references waiting to be resolved.
 * core/manifest.c walks and reads files; core/mf_fields.c checks one entry's fields;
 * core/mf_resolve.c resolves references; core/mf_graph.c finds cycles and start orders. */
#ifndef WISP_CORE_MF_INTERNAL_H
#define WISP_CORE_MF_INTERNAL_H
#include <lua.h>
#include "core/manifest.h"

/* ---- arena: every allocation of a model, freed at once by mf_free ---- */

typedef struct mf_chunk mf_chunk;
typedef struct mf_arena {
  mf_chunk *head;
} mf_arena;

void *mf_alloc(mf_arena *a, size_t n); /* zeroed, aligned for any type; NULL when out of memory */
char *mf_strndup(mf_arena *a, const char *s, size_t n);
char *mf_strdup(mf_arena *a, const char *s);
char *mf_printf(mf_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mf_arena_free(mf_arena *a);

/* ---- loader ---- */

/* A reference written in a manifest, resolved after every file is read. */
typedef struct mf_ref {
  const char *id; /* "ns:name" (a bare name was qualified with the entry's namespace) */
  yaml_pos pos;   /* where it is written */
  const char *field; /* the field it is written in, for messages ("lifecycle.depends_on") */
  const mf_entry *target; /* set by mf_resolve when it resolves to the right kind */
} mf_ref;

typedef struct mf_pending {
  mf_entry *e;
  bool dup;               /* its id was defined before: left out of the index and the graphs */
  mf_ref process, host;   /* process.service; id NULL when absent */
  mf_ref *imports;        /* code kinds; aliases are in e->imports[i].alias */
  size_t nimports;
  mf_ref *requires;       /* lifecycle.requires + depends_on, deduplicated */
  size_t nrequires;
  mf_ref *sec_groups, *sec_policies; /* lifecycle.security */
  size_t nsec_groups, nsec_policies;
  yaml_pos groups_pos;    /* security.policy: where `groups` is, for messages */
} mf_pending;

struct mf_app_priv {
  mf_arena arena;
  yaml_doc **docs;
  size_t ndocs, capdocs;
  const mf_entry **index; /* sorted by id, duplicates removed */
  size_t nindex;
};

typedef struct mf_loader {
  mf_app *app;
  mf_errors *errs;
  mf_arena *ar;
  mf_pending *pend; /* one per entry kept in the model, in load order */
  size_t npend, cappend;
  lua_State *L;     /* compiles sources to report syntax errors; created on first use */
  size_t lua_mem;
  size_t manifest_bytes, source_bytes;
  bool gave_up;     /* a hard limit was hit: stop reading more files */
  /* app-wide settings and where they were first set */
  const char *strict_file, *shutdown_file;
  yaml_pos strict_pos, shutdown_pos;
} mf_loader;

/* Where a problem is reported: the file, its document and the entry (NULL at file level). */
typedef struct mf_ctx {
  mf_loader *ld;
  const char *file;
  const yaml_doc *doc;
  const char *entry;
  const char *ns;
} mf_ctx;

void mf_err(mf_ctx *c, yaml_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "mapping", "sequence", "string", "integer", "number", "boolean", "null" */
const char *mf_type_name(const json_t *v);

/* Checks the fields of one entry of kind e->kind (id, kind, file, position, raw already set)
 * and fills e and p. Problems go to c. */
void mf_parse_entry(mf_ctx *c, mf_entry *e, mf_pending *p);
/* Checks the top-level keys other than namespace and entries. */
void mf_parse_toplevel(mf_ctx *c, const json_t *root);

/* Resolves every pending reference and builds the policy groups. */
void mf_resolve(mf_loader *ld);
/* Reports dependency and import cycles; fills app->services and app->start_order. */
void mf_graph(mf_loader *ld);

#endif
