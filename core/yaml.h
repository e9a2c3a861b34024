/* core/yaml.h — YAML 1.2 and JSON documents (libfyaml's event parser) into jansson values, with
 * the source position of every node kept in a side table.
 *
 * One code path for both formats: a name ending in ".json" puts libfyaml in its strict JSON
 * mode, anything else is parsed as YAML 1.2; the events are turned into jansson values the same
 * way, so `{"a": [1, true]}` and `a: [1, true]` give equal trees.
 *
 * Scalars follow the YAML 1.2 core schema, for plain (unquoted) scalars only:
 *   null:  null Null NULL ~ and the empty scalar       -> json null
 *   bool:  true True TRUE false False FALSE            -> json true / false
 *   int:   [-+]?[0-9]+  0o[0-7]+  0x[0-9a-fA-F]+       -> json integer (must fit int64)
 *   float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  -> json real (must be finite)
 * Everything else — `yes`, `on`, `off`, `0b101`, `1_000`, quoted and block scalars — is a
 * string. .inf and .nan are errors (jansson has no non-finite reals). The tags !!str !!int
 * !!float !!bool !!null !!map !!seq and the non-specific `!` are honoured; any other tag is an
 * error. Merge keys (`<<`, a YAML 1.1 type) are not special: `<<` is an ordinary key.
 *
 * Refused, each with file, line, column and a message: more than one document, duplicate keys
 * (first occurrence named), keys that are not scalars or hold NUL bytes, strings that are not
 * UTF-8, nesting deeper than max_depth, more than max_nodes nodes, inputs over max_bytes.
 * Aliases share the anchored value (json_incref), so they cost no memory, but every alias adds
 * the node count of what it names to the document's node count: the "billion laughs" stops at
 * the first alias that crosses max_nodes, after O(max_nodes) work at most. An alias must name
 * an anchor whose node is complete (no recursive aliases).
 *
 * Positions. jansson shares its true/false/null singletons, so a position cannot be keyed by
 * a scalar's pointer; it is keyed by where the node sits: (object, key), (array, index), or,
 * for containers, the container itself. Lines and columns are 1-based (columns count
 * characters); {0, 0} means unknown. The nodes under an alias report the anchor's positions.
 * The tree belongs to the yaml_doc and must not be modified while positions are queried. */
#ifndef WISP_CORE_YAML_H
#define WISP_CORE_YAML_H
#include <jansson.h>
#include <stddef.h>

typedef struct yaml_pos {
  int line, col; /* 1-based, 0 = unknown */
} yaml_pos;

typedef struct yaml_limits {
  size_t max_bytes; /* input size; default 4 MiB */
  size_t max_depth; /* nested containers; default 64 (at most 10000 is honoured) */
  size_t max_nodes; /* scalars + containers, aliases expanded; default 1000000 */
} yaml_limits;

#define YAML_DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define YAML_DEFAULT_MAX_DEPTH ((size_t)64)
#define YAML_DEFAULT_MAX_NODES ((size_t)1000000)

/* A load failure. file is the name given to the loader (cut to fit), line/col are 0 when the
 * problem concerns the whole input (unreadable, too large). msg never ends with a newline;
 * for syntax errors it is libfyaml's own diagnostic text. */
typedef struct yaml_error {
  char file[1024];
  int line, col;
  char msg[512];
} yaml_error;

typedef struct yaml_doc yaml_doc;

/* The default limits (the YAML_DEFAULT_* values). */
yaml_limits yaml_default_limits(void);

/* Parses data[0..len) (need not be NUL-terminated). name is used in messages and chooses the
 * mode (".json" suffix: JSON). lim NULL = defaults. On failure returns NULL and fills *err
 * (err may be NULL). libfyaml never writes to stderr: its diagnostics are captured. */
yaml_doc *yaml_parse(const char *name, const char *data, size_t len, const yaml_limits *lim,
                     yaml_error *err);
/* Reads path (a regular file of at most lim->max_bytes) and parses it as yaml_parse would,
 * with path as the name. */
yaml_doc *yaml_load_file(const char *path, const yaml_limits *lim, yaml_error *err);
void yaml_free(yaml_doc *d);

/* The root value (borrowed; an empty input gives json null). Never NULL for a loaded doc. */
json_t *yaml_root(const yaml_doc *d);
/* Where a container (object or array) of this document starts; for the root container too. */
yaml_pos yaml_pos_node(const yaml_doc *d, const json_t *container);
/* Where the key `key` of object obj is written / where its value starts. */
yaml_pos yaml_pos_key(const yaml_doc *d, const json_t *obj, const char *key);
yaml_pos yaml_pos_value(const yaml_doc *d, const json_t *obj, const char *key);
/* Where element i of array arr starts. */
yaml_pos yaml_pos_index(const yaml_doc *d, const json_t *arr, size_t i);
/* Where the root value starts (scalars included). */
yaml_pos yaml_pos_root(const yaml_doc *d);

/* Writes "file:line:col: msg" (or "file: msg" without a position) into out; returns out. */
const char *yaml_error_format(const yaml_error *err, char *out, size_t outlen);

#endif
