/* core/manifest.h — an app directory loaded into a validated model (docs/manifest.md is the
 * reference of every kind and field).
 *
 * mf_load walks the directory, reads every *.yaml / *.yml / *.json whose top level has
 * `namespace:` and `entries:` (the reference runtime's _index.yaml layout), and checks
 * everything before anything can start: syntax, kinds, fields and their types, numbers,
 * durations, source files (read and compiled once), duplicate ids, references between entries,
 * policy groups, dependency and import cycles. All problems are collected in one pass, each
 * with file, line, column and the entry id; the app is returned only when there are none.
 *
 * The model is read-only after loading and may be shared by threads. Everything in it — ids,
 * arrays, source texts, the raw jansson values of the entries — lives until mf_free. */
#ifndef WISP_CORE_MANIFEST_H
#define WISP_CORE_MANIFEST_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/yaml.h"

/* ---- problems ---- */

typedef struct mf_error {
  char *file;  /* manifest or source path as found under the app dir */
  int line, col; /* 1-based; line 0: the whole file; col 0: the whole line */
  char *entry; /* "ns:name", or NULL for file-level problems */
  char *msg;
  size_t seq;  /* order of discovery, the tie-breaker when sorting */
} mf_error;

/* At most MF_ERRORS_MAX problems are kept; the rest are only counted (dropped). */
#define MF_ERRORS_MAX 1000

typedef struct mf_errors {
  mf_error *v;
  size_t n, cap;
  size_t dropped;
} mf_errors;

void mf_errors_init(mf_errors *e);
void mf_errors_free(mf_errors *e);
void mf_errors_add(mf_errors *e, const char *file, int line, int col, const char *entry,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
size_t mf_errors_count(const mf_errors *e); /* kept + dropped */
/* Sorts by file, line, column, then discovery order. */
void mf_errors_sort(mf_errors *e);
/* Sorts, then prints one line per problem —
 *   file:line:col: entry ns:name: message
 * ("file:line:col: message" without an entry, "file:line: ..." without a column — Lua syntax
 * errors —, "file: ..." without a position) — and, when
 * some were dropped, "... and N more problems". */
void mf_errors_print(mf_errors *e, FILE *out);

/* ---- the model ---- */

typedef enum mf_kind {
  MF_PROCESS_LUA,     /* process.lua */
  MF_FUNCTION_LUA,    /* function.lua */
  MF_LIBRARY_LUA,     /* library.lua */
  MF_PROCESS_HOST,    /* process.host */
  MF_PROCESS_SERVICE, /* process.service */
  MF_SECURITY_POLICY, /* security.policy */
  MF_KIND_COUNT
} mf_kind;

const char *mf_kind_name(mf_kind k); /* "process.lua", ...; "?" when out of range */

typedef struct mf_entry mf_entry;

typedef struct mf_import {
  const char *alias;     /* the name given to require() */
  const mf_entry *target; /* a library.lua entry */
} mf_import;

typedef struct mf_restart {
  int64_t initial_delay_ns; /* default 1 s, >= 0 */
  int64_t max_delay_ns;     /* default 90 s, >= initial_delay */
  double backoff_factor;    /* default 2, >= 1 */
  double jitter;            /* default 0.1, 0..1 (fraction of the delay, +/-) */
  int64_t max_attempts;     /* default 0 = unlimited, >= 0 */
} mf_restart;

typedef struct mf_security {
  bool present;                   /* the service has a lifecycle.security block */
  const char *actor_id;           /* NULL when the block has no actor */
  const json_t *actor_meta;       /* NULL or an object (borrowed) */
  const char *const *groups;      /* policy group ids "ns:group", each known to the app */
  size_t ngroups;
  const mf_entry *const *policies; /* security.policy entries */
  size_t npolicies;
} mf_security;

typedef struct mf_lifecycle {
  bool auto_start;             /* default false, as in the reference runtime */
  int64_t start_timeout_ns;    /* default 10 s, > 0 */
  int64_t stop_timeout_ns;     /* default 10 s, > 0 */
  int64_t stable_threshold_ns; /* default 5 s, >= 0: running this long resets the attempts */
  const mf_entry *const *requires; /* services to start first (requires + depends_on) */
  size_t nrequires;
  mf_restart restart;
  mf_security security;
} mf_lifecycle;

typedef struct mf_host {
  int workers;            /* 0 = not given (the runtime's --workers); else 1..1024 */
  uint64_t memory_limit;  /* per-process bytes; 0 = not given (the runtime default) */
  int64_t max_processes;  /* 0 = unlimited; else >= 1 */
  int64_t queue_size;     /* accepted for compatibility, 0 = not given; no effect */
  int64_t local_queue_size; /* idem */
  bool auto_start;        /* lifecycle.auto_start, accepted; hosts are always available */
} mf_host;

struct mf_entry {
  const char *id;   /* "ns:name" */
  const char *ns;
  const char *name;
  mf_kind kind;
  const char *file; /* the manifest that defines it */
  int line, col;    /* where the entry's mapping starts */
  const json_t *raw; /* the entry as loaded (borrowed; positions via doc) */
  const yaml_doc *doc;
  const json_t *meta; /* NULL or an object */

  /* process.lua, function.lua, library.lua */
  const char *source_path; /* resolved: the manifest's directory joined with the file:// path */
  const char *source;      /* the text, NUL-terminated, compiled once at load */
  size_t source_len;
  const char *method;      /* NULL when absent */
  const char *const *modules; /* NULL-terminated, never NULL itself (empty: none allowed) */
  size_t nmodules;
  const mf_import *imports;
  size_t nimports;
  bool is_test;            /* function.lua with meta.type: test */

  /* process.host */
  mf_host host;

  /* process.service */
  const mf_entry *process;  /* a process.lua entry */
  const mf_entry *svc_host; /* a process.host entry, NULL = the runtime's default host */
  const json_t *input;      /* NULL or an array: the process's arguments */
  mf_lifecycle lifecycle;

  /* security.policy */
  const json_t *policy;     /* the policy object, shape-checked (see security/policy.h) */
  const char *const *groups; /* the group ids it belongs to ("ns:group") */
  size_t ngroups;
};

typedef struct mf_group {
  const char *id;                   /* "ns:group" */
  const mf_entry *const *policies;  /* its security.policy entries, in load order */
  size_t npolicies;
} mf_group;

typedef struct mf_app_priv mf_app_priv;

typedef struct mf_app {
  const char *dir;
  const mf_entry *const *entries; /* load order: files by path, entries in file order */
  size_t nentries;
  const mf_entry *const *services; /* every process.service, dependencies first */
  size_t nservices;
  const mf_entry *const *start_order; /* auto_start services and what they require, deps first */
  size_t nstart;
  const mf_group *groups; /* sorted by id */
  size_t ngroups;
  bool strict;                 /* top-level security.strict, default true */
  int64_t shutdown_timeout_ns; /* top-level shutdown_timeout, default 10 s */
  mf_app_priv *priv;
} mf_app;

/* Limits against hostile app directories. */
#define MF_MAX_FILES 10000          /* candidate files (.yaml .yml .json) */
#define MF_MAX_DIR_DEPTH 32
#define MF_MAX_MANIFEST_BYTES ((size_t)64 << 20) /* all manifest files together */
#define MF_MAX_ENTRIES 100000
#define MF_MAX_SOURCE_BYTES ((size_t)8 << 20)    /* one Lua source */
#define MF_MAX_TOTAL_SOURCE_BYTES ((size_t)256 << 20)

/* Loads and validates app_dir. Returns the app, or NULL when errs holds problems (errs must
 * be initialised; problems are appended). A directory without any manifest is a problem. */
mf_app *mf_load(const char *app_dir, mf_errors *errs);
void mf_free(mf_app *app);

/* The entry with this id, or NULL. O(log n). */
const mf_entry *mf_find(const mf_app *app, const char *id);
/* The policy group with this id, or NULL. */
const mf_group *mf_find_group(const mf_app *app, const char *id);

/* Byte sizes: "<digits>[ ]<unit>" with units B, KB MB GB TB (powers of 1000) and KiB MiB GiB
 * TiB (powers of 1024), case-insensitive, or digits alone (bytes). "K" "M" "G" "T" alone are
 * refused as ambiguous. Returns true and *out, or false with a message in err (err may be
 * NULL). The result must fit in 2^62. */
bool mf_parse_bytes(const char *s, uint64_t *out, char *err, size_t errlen);

/* `wisp check APP_DIR`: loads the app, prints every problem (sorted) and a final count, or a
 * one-line summary when it is valid. Returns the exit code: 0 valid, 1 problems. */
int mf_check_command(const char *app_dir, FILE *out);

#endif
