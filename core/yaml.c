/* core/yaml.c — owns the YAML/JSON loader: libfyaml events become jansson values, positions go
 * into a hash table keyed by (container, key | index), and the limits of yaml.h are enforced
 * while the events arrive, so hostile input stops early with bounded memory.
 *
 * Invariants while building: the frame stack holds the open containers (borrowed: each is
 * already owned by its parent, or by doc->root); every node counted in b->nodes has been
 * created or aliased; an anchor is registered only when its node is complete, holding one
 * reference, with the node count and height it adds when aliased. */
#include "core/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define YAML_DEPTH_CAP 10000

/* ---- arena: NUL-terminated copies of keys and anchor names, freed all at once ---- */

typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t used, cap;
  char data[];
} arena_chunk;

typedef struct arena {
  arena_chunk *head;
} arena;

static char *arena_dup(arena *a, const char *s, size_t n) {
  size_t need = n + 1;
  if (!a->head || a->head->cap - a->head->used < need) {
    size_t cap = need > 65536 ? need : 65536;
    arena_chunk *c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
  }
  char *p = a->head->data + a->head->used;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  a->head->used += need;
  return p;
}

static void arena_free(arena *a) {
  arena_chunk *c = a->head;
  while (c) {
    arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
}

/* ---- hashing ---- */

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

static uint32_t hash_final(uint64_t h) {
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return (uint32_t)h;
}

/* ---- position table ---- */

enum { REC_SELF = 1, REC_MEMBER, REC_INDEX };

typedef struct pos_rec {
  const void *c;   /* container; NULL marks an empty slot */
  const char *key; /* REC_MEMBER: arena copy of the key */
  size_t n;        /* REC_MEMBER: key length; REC_INDEX: index */
  uint32_t hash;
  uint8_t kind;
  yaml_pos kpos, vpos;
} pos_rec;

typedef struct pos_tab {
  pos_rec *v;
  size_t cap, len; /* cap is 0 or a power of two */
} pos_tab;

static uint32_t rec_hash(const void *c, int kind, const char *key, size_t n) {
  uint64_t h = UINT64_C(14695981039346656037) ^ ((uint64_t)(uintptr_t)c * UINT64_C(0x9E3779B97F4A7C15));
  h ^= (uint64_t)kind << 56;
  if (kind == REC_MEMBER) h = hash_bytes(h, key, n);
  else h ^= (uint64_t)n * UINT64_C(0x94D049BB133111EB);
  return hash_final(h);
}

static const pos_rec *tab_find(const pos_tab *t, const void *c, int kind, const char *key,
                               size_t n) {
  if (!t->cap || !c) return NULL;
  uint32_t h = rec_hash(c, kind, key, n);
  size_t mask = t->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const pos_rec *r = &t->v[i];
    if (!r->c) return NULL;
    if (r->hash == h && r->c == c && r->kind == kind && r->n == n &&
        (kind != REC_MEMBER || memcmp(r->key, key, n) == 0))
      return r;
  }
}

static bool tab_grow(pos_tab *t) {
  size_t cap = t->cap ? t->cap * 2 : 256;
  pos_rec *v = calloc(cap, sizeof *v);
  if (!v) return false;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->v[i].c) continue;
    size_t j = t->v[i].hash & (cap - 1);
    while (v[j].c) j = (j + 1) & (cap - 1);
    v[j] = t->v[i];
  }
  free(t->v);
  t->v = v;
  t->cap = cap;
  return true;
}

/* Inserts r (its hash is computed here). The caller guarantees the key is not present. */
static bool tab_put(pos_tab *t, pos_rec r) {
  if ((t->len + 1) * 2 > t->cap && !tab_grow(t)) return false;
  r.hash = rec_hash(r.c, r.kind, r.key, r.n);
  size_t mask = t->cap - 1, i = r.hash & mask;
  while (t->v[i].c) i = (i + 1) & mask;
  t->v[i] = r;
  t->len++;
  return true;
}

/* ---- anchors ---- */

typedef struct anchor_rec {
  const char *name; /* arena copy; NULL marks an empty slot */
  size_t n;
  uint32_t hash;
  json_t *v;       /* one reference held */
  size_t count;    /* nodes the anchored value contains, aliases expanded */
  size_t height;   /* container levels it spans (0 for a scalar) */
} anchor_rec;

typedef struct anchor_tab {
  anchor_rec *v;
  size_t cap, len;
} anchor_tab;

static anchor_rec *anchor_find(anchor_tab *t, const char *name, size_t n, uint32_t h) {
  if (!t->cap) return NULL;
  size_t mask = t->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    anchor_rec *r = &t->v[i];
    if (!r->name) return NULL;
    if (r->hash == h && r->n == n && memcmp(r->name, name, n) == 0) return r;
  }
}

static bool anchor_grow(anchor_tab *t) {
  size_t cap = t->cap ? t->cap * 2 : 64;
  anchor_rec *v = calloc(cap, sizeof *v);
  if (!v) return false;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->v[i].name) continue;
    size_t j = t->v[i].hash & (cap - 1);
    while (v[j].name) j = (j + 1) & (cap - 1);
    v[j] = t->v[i];
  }
  free(t->v);
  t->v = v;
  t->cap = cap;
  return true;
}

static void anchor_tab_free(anchor_tab *t) {
  for (size_t i = 0; i < t->cap; i++)
    if (t->v[i].name) json_decref(t->v[i].v);
  free(t->v);
  t->v = NULL;
  t->cap = t->len = 0;
}

/* ---- the document ---- */

struct yaml_doc {
  json_t *root;
  yaml_pos root_pos;
  pos_tab tab;
  arena keys;
};

yaml_limits yaml_default_limits(void) {
  yaml_limits l = {YAML_DEFAULT_MAX_BYTES, YAML_DEFAULT_MAX_DEPTH, YAML_DEFAULT_MAX_NODES};
  return l;
}

void yaml_free(yaml_doc *d) {
  if (!d) return;
  json_decref(d->root);
  free(d->tab.v);
  arena_free(&d->keys);
  free(d);
}

json_t *yaml_root(const yaml_doc *d) { return d ? d->root : NULL; }

yaml_pos yaml_pos_root(const yaml_doc *d) {
  yaml_pos none = {0, 0};
  return d ? d->root_pos : none;
}

yaml_pos yaml_pos_node(const yaml_doc *d, const json_t *container) {
  yaml_pos none = {0, 0};
  if (!d) return none;
  const pos_rec *r = tab_find(&d->tab, container, REC_SELF, NULL, 0);
  return r ? r->vpos : none;
}

yaml_pos yaml_pos_key(const yaml_doc *d, const json_t *obj, const char *key) {
  yaml_pos none = {0, 0};
  if (!d || !key) return none;
  const pos_rec *r = tab_find(&d->tab, obj, REC_MEMBER, key, strlen(key));
  return r ? r->kpos : none;
}

yaml_pos yaml_pos_value(const yaml_doc *d, const json_t *obj, const char *key) {
  yaml_pos none = {0, 0};
  if (!d || !key) return none;
  const pos_rec *r = tab_find(&d->tab, obj, REC_MEMBER, key, strlen(key));
  return r ? r->vpos : none;
}

yaml_pos yaml_pos_index(const yaml_doc *d, const json_t *arr, size_t i) {
  yaml_pos none = {0, 0};
  if (!d) return none;
  const pos_rec *r = tab_find(&d->tab, arr, REC_INDEX, NULL, i);
  return r ? r->vpos : none;
}

const char *yaml_error_format(const yaml_error *err, char *out, size_t outlen) {
  if (!outlen) return out;
  if (err->line > 0)
    snprintf(out, outlen, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
  else
    snprintf(out, outlen, "%s: %s", err->file, err->msg);
  return out;
}

/* ---- building ---- */

typedef struct frame {
  json_t *c;
  bool is_map, have_key;
  const char *key; /* pending key (arena) */
  size_t keylen;
  yaml_pos keypos;
  size_t start;      /* b->nodes before this container was counted */
  size_t height;     /* 1 + the highest child so far */
  const char *anchor; /* to register when the container ends (arena), or NULL */
  size_t anchorlen;
} frame;

typedef struct builder {
  const yaml_limits *lim;
  yaml_error *err;
  yaml_doc *doc;
  frame *stack;
  size_t depth;
  anchor_tab anchors;
  size_t nodes;
  int ndocs;
  bool failed;
  yaml_pos last; /* the last position seen, {1, 1} at first */
  const char *input; /* what libfyaml parses; its marks are byte offsets into it */
  size_t input_len;
  char *scratch;     /* decoded single-quoted scalars */
  size_t scratch_cap;
} builder;

static void set_err(yaml_error *err, const char *name, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void set_err(yaml_error *err, const char *name, int line, int col, const char *fmt, ...) {
  if (!err) return;
  snprintf(err->file, sizeof err->file, "%s", name ? name : "<input>");
  err->line = line;
  err->col = col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  size_t n = strlen(err->msg);
  while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == '\r')) err->msg[--n] = '\0';
}

static void fail(builder *b, yaml_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(builder *b, yaml_pos pos, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = true;
  if (!b->err) return;
  b->err->line = pos.line;
  b->err->col = pos.col;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err->msg, sizeof b->err->msg, fmt, ap);
  va_end(ap);
}

/* Writes s[0..n) for a message: at most 40 bytes, control and non-ASCII bytes as \xNN. */
static const char *quote(const char *s, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 8 < outlen; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i == 40) {
      o += (size_t)snprintf(out + o, outlen - o, "...");
      break;
    }
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
      o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  out[o] = '\0';
  return out;
}

/* Length of the longest valid UTF-8 prefix of s[0..n) that ends on a character boundary. */
static size_t utf8_prefix(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return i;
    if (n - i < len) return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return i;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return i;
    i += len;
  }
  return n;
}

static bool utf8_valid(const unsigned char *s, size_t n) {
  return utf8_prefix((const char *)s, n) == n;
}

/* Where an event's node starts. libfyaml marks a quoted scalar after its opening quote (on the
 * quote's line): moved back onto the quote. Block scalars are marked at their first content
 * line, which is kept. */
static yaml_pos mark_pos(struct fy_event *e) {
  yaml_pos p = {0, 0};
  const struct fy_mark *m = fy_event_start_mark(e);
  if (m && m->line >= 0 && m->column >= 0) {
    p.line = m->line + 1;
    p.col = m->column + 1;
    if (e->type == FYET_SCALAR && p.col > 1) {
      enum fy_scalar_style st = fy_token_scalar_style(fy_event_get_token(e));
      if (st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) p.col--;
    }
    if (e->type == FYET_ALIAS && p.col > 1) p.col--; /* marked after the '*' */
  }
  /* a node starts at its properties (anchor, tag) when it has any */
  struct fy_token *props[2] = {NULL, NULL};
  if (e->type == FYET_SCALAR || e->type == FYET_MAPPING_START || e->type == FYET_SEQUENCE_START) {
    props[0] = fy_event_get_anchor_token(e);
    props[1] = fy_event_get_tag_token(e);
  }
  for (int i = 0; i < 2; i++) {
    const struct fy_mark *pm = props[i] ? fy_token_start_mark(props[i]) : NULL;
    if (!pm || pm->line < 0 || pm->column < 0) continue;
    yaml_pos q = {pm->line + 1, pm->column + 1};
    if (!p.line || q.line < p.line || (q.line == p.line && q.col < p.col)) p = q;
  }
  return p;
}

static bool count_nodes(builder *b, size_t add, yaml_pos pos, const char *what) {
  if (add > b->lim->max_nodes || b->nodes > b->lim->max_nodes - add) {
    fail(b, pos, "%s: the document has more than %zu nodes%s", what, b->lim->max_nodes,
         strcmp(what, "alias") == 0 ? " once aliases are expanded" : "");
    return false;
  }
  b->nodes += add;
  return true;
}

/* Puts v (a new reference, stolen) where the innermost open container expects its next value;
 * height is what v adds below its parent (0 for scalars). */
static void attach(builder *b, json_t *v, yaml_pos pos, size_t height) {
  if (b->depth == 0) {
    if (b->doc->root) {
      json_decref(v);
      fail(b, pos, "more than one root node");
      return;
    }
    b->doc->root = v;
    b->doc->root_pos = pos;
    return;
  }
  frame *f = &b->stack[b->depth - 1];
  if (f->height < height + 1) f->height = height + 1;
  pos_rec r = {0};
  r.c = f->c;
  r.vpos = pos;
  if (f->is_map) {
    if (json_object_setn_new(f->c, f->key, f->keylen, v) != 0) {
      fail(b, pos, "out of memory");
      return;
    }
    r.kind = REC_MEMBER;
    r.key = f->key;
    r.n = f->keylen;
    r.kpos = f->keypos;
    f->have_key = false;
  } else {
    size_t idx = json_array_size(f->c);
    if (json_array_append_new(f->c, v) != 0) {
      fail(b, pos, "out of memory");
      return;
    }
    r.kind = REC_INDEX;
    r.n = idx;
  }
  if (!tab_put(&b->doc->tab, r)) fail(b, pos, "out of memory");
}

static void register_anchor(builder *b, const char *name, size_t n, json_t *v, size_t count,
                            size_t height, yaml_pos pos) {
  anchor_tab *t = &b->anchors;
  uint32_t h = hash_final(hash_bytes(UINT64_C(14695981039346656037), name, n));
  anchor_rec *r = anchor_find(t, name, n, h);
  if (r) { /* YAML allows redefining an anchor: later aliases name the newest node */
    json_decref(r->v);
  } else {
    if ((t->len + 1) * 2 > t->cap && !anchor_grow(t)) {
      fail(b, pos, "out of memory");
      return;
    }
    const char *copy = arena_dup(&b->doc->keys, name, n);
    if (!copy) {
      fail(b, pos, "out of memory");
      return;
    }
    size_t mask = t->cap - 1, i = h & mask;
    while (t->v[i].name) i = (i + 1) & mask;
    r = &t->v[i];
    r->name = copy;
    r->n = n;
    r->hash = h;
    t->len++;
  }
  r->v = json_incref(v);
  r->count = count;
  r->height = height;
}

static const char *token_text(struct fy_token *t, size_t *n) {
  *n = 0;
  if (!t) return NULL;
  const char *s = fy_token_get_text(t, n);
  if (!s) *n = 0;
  return s;
}

static bool is_white(char c) { return c == ' ' || c == '\t'; }

/* Decodes a single-quoted scalar's raw content (between the quotes, already validated by
 * libfyaml) into out (at least n bytes): '' is a quote; a line break with the white space
 * around it folds into one space, or into k newlines when k empty lines follow it. Done here
 * because libfyaml 0.7.12 leaks its chunk array formatting some single-quoted scalars. */
static size_t decode_single_quoted(const char *raw, size_t n, char *out) {
  size_t o = 0, i = 0, breaks = 0; /* line breaks since the last line with content */
  bool first = true;
  for (;;) {
    size_t start = i; /* one line: raw[start..end) */
    while (i < n && raw[i] != '\n' && raw[i] != '\r') i++;
    size_t end = i;
    bool last = i >= n;
    if (!last) i += raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n' ? 2 : 1;
    if (!first)
      while (start < end && is_white(raw[start])) start++;
    if (!last)
      while (end > start && is_white(raw[end - 1])) end--;
    if (!first && start == end && !last) {
      breaks++; /* an empty line */
    } else {
      if (breaks == 1) out[o++] = ' ';
      for (size_t k = 1; k < breaks; k++) out[o++] = '\n';
      for (size_t k = start; k < end; k++) {
        out[o++] = raw[k];
        if (raw[k] == '\'' && k + 1 < end && raw[k + 1] == '\'') k++;
      }
      breaks = 1;
    }
    first = false;
    if (last) break;
  }
  return o;
}

/* A scalar event's text (not NUL-terminated); NULL only when out of memory. */
static const char *scalar_text(builder *b, struct fy_event *e, size_t *n) {
  struct fy_token *t = fy_event_get_token(e);
  *n = 0;
  if (!t) return "";
  if (fy_token_scalar_style(t) == FYSS_SINGLE_QUOTED) {
    const struct fy_mark *a = fy_token_start_mark(t), *z = fy_token_end_mark(t);
    if (a && z && a->input_pos <= z->input_pos && z->input_pos <= b->input_len) {
      size_t len = z->input_pos - a->input_pos;
      if (len + 1 > b->scratch_cap) {
        size_t cap = len + 1 > 2 * b->scratch_cap ? len + 1 : 2 * b->scratch_cap;
        char *p = realloc(b->scratch, cap);
        if (!p) return NULL;
        b->scratch = p;
        b->scratch_cap = cap;
      }
      *n = decode_single_quoted(b->input + a->input_pos, len, b->scratch);
      return b->scratch;
    }
  }
  const char *s = token_text(t, n);
  return s ? s : "";
}

enum tag_kind { TAG_NONE, TAG_NONSPECIFIC, TAG_STR, TAG_INT, TAG_FLOAT, TAG_BOOL, TAG_NULL,
                TAG_MAP, TAG_SEQ, TAG_OTHER };

/* The tag as written ("!!binary", "!foo") for messages. */
static const char *tag_written(struct fy_event *e, char *out, size_t outlen) {
  struct fy_token *t = fy_event_get_tag_token(e);
  size_t hl = 0, sl = 0;
  const char *h = t ? fy_tag_token_handle(t, &hl) : NULL;
  const char *s = t ? fy_tag_token_suffix(t, &sl) : NULL;
  char q1[100], q2[100];
  snprintf(out, outlen, "%s%s", h ? quote(h, hl, q1, sizeof q1) : "",
           s ? quote(s, sl, q2, sizeof q2) : "");
  return out;
}

static enum tag_kind tag_kind(struct fy_event *e, const char **text, size_t *n) {
  struct fy_token *t = fy_event_get_tag_token(e);
  *text = token_text(t, n);
  if (!t || !*text) return TAG_NONE;
  static const char core[] = "tag:yaml.org,2002:";
  static const struct { const char *name; enum tag_kind kind; } known[] = {
      {"str", TAG_STR},   {"int", TAG_INT}, {"float", TAG_FLOAT}, {"bool", TAG_BOOL},
      {"null", TAG_NULL}, {"map", TAG_MAP}, {"seq", TAG_SEQ}};
  if (*n == 1 && (*text)[0] == '!') return TAG_NONSPECIFIC;
  if (*n > sizeof core - 1 && memcmp(*text, core, sizeof core - 1) == 0) {
    const char *s = *text + sizeof core - 1;
    size_t len = *n - (sizeof core - 1);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      if (strlen(known[i].name) == len && memcmp(known[i].name, s, len) == 0) return known[i].kind;
  }
  return TAG_OTHER;
}

static bool is_one_of(const char *s, size_t n, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == n && memcmp(*words, s, n) == 0) return true;
  return false;
}

static const char *const null_words[] = {"null", "Null", "NULL", "~", "", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                        "-.inf", "-.Inf", "-.INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Core-schema int. Returns 1 with *out set, 0 when s is not an int, -1 when it is one that
 * does not fit int64. */
static int parse_int(const char *s, size_t n, json_int_t *out) {
  if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    int base = s[1] == 'o' ? 8 : 16;
    uint64_t v = 0;
    for (size_t i = 2; i < n; i++) {
      int d = base == 8 ? (s[i] >= '0' && s[i] <= '7' ? s[i] - '0' : -1) : hexval(s[i]);
      if (d < 0) return 0;
      if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)d) / (uint64_t)base) {
        for (size_t k = i + 1; k < n; k++) /* still an int, just too big, if the rest fits */
          if ((base == 8 ? (s[k] >= '0' && s[k] <= '7' ? 0 : -1) : hexval(s[k])) < 0) return 0;
        return -1;
      }
      v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = (json_int_t)v;
    return 1;
  }
  size_t i = 0;
  bool neg = false;
  if (n && (s[0] == '-' || s[0] == '+')) neg = s[i++] == '-';
  if (i == n) return 0;
  for (size_t k = i; k < n; k++)
    if (!is_digit(s[k])) return 0;
  uint64_t limit = neg ? UINT64_C(0x8000000000000000) : UINT64_C(0x7fffffffffffffff);
  uint64_t v = 0;
  for (; i < n; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (limit - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
  return 1;
}

/* Core-schema float syntax (ints match too). */
static bool float_syntax(const char *s, size_t n) {
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  while (i < n && is_digit(s[i])) i++, digits++;
  if (i < n && s[i] == '.') {
    i++;
    size_t frac = 0;
    while (i < n && is_digit(s[i])) i++, frac++;
    if (!digits && !frac) return false;
  } else if (!digits) {
    return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t exp = 0;
    while (i < n && is_digit(s[i])) i++, exp++;
    if (!exp) return false;
  }
  return i == n;
}

/* Returns the real, or NULL after fail() when the value is not finite. */
static json_t *make_real(builder *b, const char *s, size_t n, yaml_pos pos) {
  char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
  char q[200];
  if (!buf) {
    fail(b, pos, "out of memory");
    return NULL;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  double d = strtod(buf, NULL);
  if (buf != small) free(buf);
  if (!isfinite(d)) {
    fail(b, pos, "number \"%s\" is out of range", quote(s, n, q, sizeof q));
    return NULL;
  }
  json_t *v = json_real(d);
  if (!v) fail(b, pos, "out of memory");
  return v;
}

static json_t *make_string(builder *b, const char *s, size_t n, yaml_pos pos) {
  if (!utf8_valid((const unsigned char *)s, n)) {
    fail(b, pos, "string is not valid UTF-8");
    return NULL;
  }
  json_t *v = json_stringn_nocheck(s, n);
  if (!v) fail(b, pos, "out of memory");
  return v;
}

static json_t *make_int(builder *b, const char *s, size_t n, yaml_pos pos, bool *matched) {
  json_int_t iv = 0;
  char q[200];
  int r = parse_int(s, n, &iv);
  *matched = r != 0;
  if (r == 0) return NULL;
  if (r < 0) {
    fail(b, pos, "integer %s does not fit in 64 bits", quote(s, n, q, sizeof q));
    return NULL;
  }
  json_t *v = json_integer(iv);
  if (!v) fail(b, pos, "out of memory");
  return v;
}

static json_t *resolve_scalar(builder *b, struct fy_event *e, const char *s, size_t n,
                              yaml_pos pos) {
  const char *tag;
  size_t taglen;
  enum tag_kind tk = tag_kind(e, &tag, &taglen);
  enum fy_scalar_style style = fy_token_scalar_style(fy_event_get_token(e));
  char q[200];
  bool matched = false;
  json_t *v;

  switch (tk) {
  case TAG_STR:
  case TAG_NONSPECIFIC:
    return make_string(b, s, n, pos);
  case TAG_NONE:
    if (style != FYSS_PLAIN) return make_string(b, s, n, pos);
    if (is_one_of(s, n, null_words)) return json_null();
    if (is_one_of(s, n, true_words)) return json_true();
    if (is_one_of(s, n, false_words)) return json_false();
    v = make_int(b, s, n, pos, &matched);
    if (matched) return v;
    if (float_syntax(s, n)) return make_real(b, s, n, pos);
    if (is_one_of(s, n, inf_words) || is_one_of(s, n, nan_words)) {
      fail(b, pos, "%s: infinite and NaN numbers are not supported", quote(s, n, q, sizeof q));
      return NULL;
    }
    return make_string(b, s, n, pos);
  case TAG_INT:
    v = make_int(b, s, n, pos, &matched);
    if (!matched) fail(b, pos, "!!int value \"%s\" is not an integer", quote(s, n, q, sizeof q));
    return v;
  case TAG_FLOAT:
    if (float_syntax(s, n)) return make_real(b, s, n, pos);
    fail(b, pos, "!!float value \"%s\" is not a finite number", quote(s, n, q, sizeof q));
    return NULL;
  case TAG_BOOL:
    if (is_one_of(s, n, true_words)) return json_true();
    if (is_one_of(s, n, false_words)) return json_false();
    fail(b, pos, "!!bool value \"%s\" is not true or false", quote(s, n, q, sizeof q));
    return NULL;
  case TAG_NULL:
    if (is_one_of(s, n, null_words)) return json_null();
    fail(b, pos, "!!null value \"%s\" is not null", quote(s, n, q, sizeof q));
    return NULL;
  case TAG_MAP:
  case TAG_SEQ:
    fail(b, pos, "tag %s on a scalar", tag_written(e, q, sizeof q));
    return NULL;
  case TAG_OTHER:
  default:
    fail(b, pos, "unsupported tag \"%s\"", tag_written(e, q, sizeof q));
    return NULL;
  }
}

static const char *event_anchor(builder *b, struct fy_event *e, size_t *n) {
  const char *a = token_text(fy_event_get_anchor_token(e), n);
  if (!a) return NULL;
  const char *copy = arena_dup(&b->doc->keys, a, *n);
  if (!copy) fail(b, mark_pos(e), "out of memory");
  return copy;
}

static void on_key(builder *b, frame *f, struct fy_event *e, yaml_pos pos) {
  size_t n;
  char q[200];
  const char *s = scalar_text(b, e, &n);
  const char *tag;
  size_t taglen;
  enum tag_kind tk = tag_kind(e, &tag, &taglen);
  if (!s) {
    fail(b, pos, "out of memory");
    return;
  }
  if (tk != TAG_NONE && tk != TAG_STR && tk != TAG_NONSPECIFIC) {
    fail(b, pos, "tag %s on a mapping key is not supported", tag_written(e, q, sizeof q));
    return;
  }
  if (memchr(s, '\0', n)) {
    fail(b, pos, "mapping key contains a NUL byte");
    return;
  }
  if (!utf8_valid((const unsigned char *)s, n)) {
    fail(b, pos, "mapping key is not valid UTF-8");
    return;
  }
  if (!count_nodes(b, 1, pos, "key")) return;
  if (json_object_getn(f->c, s, n)) {
    const pos_rec *first = tab_find(&b->doc->tab, f->c, REC_MEMBER, s, n);
    if (first)
      fail(b, pos, "duplicate key \"%s\" (first at line %d, column %d)", quote(s, n, q, sizeof q),
           first->kpos.line, first->kpos.col);
    else
      fail(b, pos, "duplicate key \"%s\"", quote(s, n, q, sizeof q));
    return;
  }
  const char *key = arena_dup(&b->doc->keys, s, n);
  if (!key) {
    fail(b, pos, "out of memory");
    return;
  }
  f->key = key;
  f->keylen = n;
  f->keypos = pos;
  f->have_key = true;
  size_t an;
  const char *anchor = token_text(fy_event_get_anchor_token(e), &an);
  if (anchor) {
    json_t *v = json_stringn_nocheck(s, n);
    if (!v) {
      fail(b, pos, "out of memory");
      return;
    }
    register_anchor(b, anchor, an, v, 1, 0, pos);
    json_decref(v);
  }
}

static void on_event(builder *b, struct fy_event *e) {
  /* implicit nodes (an empty key or value) carry no mark: they take the position of the event
   * before them (their key, or the previous item), so every node has a position */
  yaml_pos pos = mark_pos(e);
  if (pos.line) b->last = pos;
  else pos = b->last;
  frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
  bool want_key = top && top->is_map && !top->have_key;
  char q[200];

  switch (e->type) {
  case FYET_DOCUMENT_START:
    if (b->ndocs++ > 0) {
      struct fy_token *t = fy_event_get_token(e);
      const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
      if (m) pos.line = m->line + 1, pos.col = m->column + 1;
      fail(b, pos, "more than one document in the stream (only one is allowed)");
    }
    return;
  case FYET_MAPPING_START:
  case FYET_SEQUENCE_START: {
    bool is_map = e->type == FYET_MAPPING_START;
    if (want_key) {
      fail(b, pos, "mapping keys must be scalars");
      return;
    }
    size_t max_depth = b->lim->max_depth < YAML_DEPTH_CAP ? b->lim->max_depth : YAML_DEPTH_CAP;
    if (b->depth >= max_depth) {
      fail(b, pos, "nesting is deeper than %zu levels", max_depth);
      return;
    }
    const char *tag;
    size_t taglen;
    enum tag_kind tk = tag_kind(e, &tag, &taglen);
    if (tk != TAG_NONE && tk != TAG_NONSPECIFIC && tk != (is_map ? TAG_MAP : TAG_SEQ)) {
      fail(b, pos, "tag \"%s\" on a %s is not supported", tag_written(e, q, sizeof q),
           is_map ? "mapping" : "sequence");
      return;
    }
    size_t start = b->nodes;
    if (!count_nodes(b, 1, pos, is_map ? "mapping" : "sequence")) return;
    size_t an = 0;
    const char *anchor = event_anchor(b, e, &an);
    if (b->failed) return;
    json_t *c = is_map ? json_object() : json_array();
    if (!c) {
      fail(b, pos, "out of memory");
      return;
    }
    pos_rec self = {0};
    self.c = c;
    self.kind = REC_SELF;
    self.vpos = pos;
    if (!tab_put(&b->doc->tab, self)) {
      json_decref(c);
      fail(b, pos, "out of memory");
      return;
    }
    attach(b, c, pos, 0); /* the height is accounted when the container ends */
    if (b->failed) return;
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->c = c;
    f->is_map = is_map;
    f->start = start;
    f->height = 1;
    f->anchor = anchor;
    f->anchorlen = an;
    return;
  }
  case FYET_MAPPING_END:
  case FYET_SEQUENCE_END: {
    if (!top) return;
    frame f = *top;
    b->depth--;
    if (b->depth) {
      frame *parent = &b->stack[b->depth - 1];
      if (parent->height < f.height + 1) parent->height = f.height + 1;
    }
    if (f.anchor) register_anchor(b, f.anchor, f.anchorlen, f.c, b->nodes - f.start, f.height, pos);
    return;
  }
  case FYET_SCALAR: {
    if (want_key) {
      on_key(b, top, e, pos);
      return;
    }
    size_t n;
    const char *s = scalar_text(b, e, &n);
    if (!s) {
      fail(b, pos, "out of memory");
      return;
    }
    if (!count_nodes(b, 1, pos, "scalar")) return;
    json_t *v = resolve_scalar(b, e, s, n, pos);
    if (!v) return;
    size_t an;
    const char *anchor = token_text(fy_event_get_anchor_token(e), &an);
    if (anchor) register_anchor(b, anchor, an, v, 1, 0, pos);
    attach(b, v, pos, 0);
    return;
  }
  case FYET_ALIAS: {
    size_t n;
    const char *name = token_text(fy_event_get_token(e), &n);
    if (!name) name = "";
    if (want_key) {
      fail(b, pos, "aliases as mapping keys are not supported");
      return;
    }
    uint32_t h = hash_final(hash_bytes(UINT64_C(14695981039346656037), name, n));
    anchor_rec *r = anchor_find(&b->anchors, name, n, h);
    if (!r) {
      fail(b, pos, "alias *%s names no complete anchor before it", quote(name, n, q, sizeof q));
      return;
    }
    size_t max_depth = b->lim->max_depth < YAML_DEPTH_CAP ? b->lim->max_depth : YAML_DEPTH_CAP;
    if (b->depth + r->height > max_depth) {
      fail(b, pos, "alias *%s: nesting is deeper than %zu levels", quote(name, n, q, sizeof q),
           max_depth);
      return;
    }
    if (!count_nodes(b, r->count, pos, "alias")) return;
    attach(b, json_incref(r->v), pos, r->height);
    return;
  }
  default:
    return;
  }
}

static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len) {
  (void)diag;
  (void)user;
  (void)buf;
  (void)len;
}

static bool has_json_suffix(const char *name) {
  size_t n = name ? strlen(name) : 0;
  return n >= 5 && strcasecmp(name + n - 5, ".json") == 0;
}

yaml_doc *yaml_parse(const char *name, const char *data, size_t len, const yaml_limits *lim,
                     yaml_error *err) {
  yaml_limits defaults = yaml_default_limits();
  if (!lim) lim = &defaults;
  if (!name) name = "<input>";
  if (err) {
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", name);
  }
  if (len > lim->max_bytes) {
    set_err(err, name, 0, 0, "input is too large (%zu bytes, the limit is %zu)", len,
            lim->max_bytes);
    return NULL;
  }

  /* YAML streams may be UTF-16/32, JSON and our manifests are UTF-8 only; libfyaml skips some
   * malformed bytes silently and ends the input at a NUL, so the whole input is checked first */
  size_t bad = utf8_prefix(data, len);
  bool control = false;
  for (size_t i = 0; i < bad && !control; i++) { /* YAML's c-printable: no C0 controls but \t \n \r, no DEL */
    unsigned char ch = (unsigned char)data[i];
    if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f) {
      bad = i;
      control = true;
    }
  }
  if (bad < len) {
    int line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
      if (data[i] == '\n') line++, col = 1;
      else if (((unsigned char)data[i] & 0xC0) != 0x80) col++;
    }
    if (control) /* libfyaml stops silently at a NUL byte: refuse them all here */
      set_err(err, name, line, col, "control character 0x%02x is not allowed (offset %zu)",
              (unsigned char)data[bad], bad);
    else
      set_err(err, name, line, col, "invalid UTF-8 (byte 0x%02x at offset %zu)",
              (unsigned char)data[bad], bad);
    return NULL;
  }

  yaml_doc *doc = calloc(1, sizeof *doc);
  size_t max_depth = lim->max_depth < YAML_DEPTH_CAP ? lim->max_depth : YAML_DEPTH_CAP;
  frame *stack = calloc(max_depth + 1, sizeof *stack);
  struct fy_diag_cfg dcfg;
  fy_diag_cfg_default(&dcfg);
  dcfg.fp = NULL;
  dcfg.output_fn = diag_sink;
  dcfg.user = NULL;
  dcfg.colorize = false;
  struct fy_diag *diag = doc && stack ? fy_diag_create(&dcfg) : NULL;
  struct fy_parser *fyp = NULL;
  if (diag) {
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg;
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.flags = (enum fy_parse_cfg_flags)(FYPCF_QUIET | FYPCF_COLLECT_DIAG |
                                           FYPCF_DEFAULT_VERSION_1_2 |
                                           (has_json_suffix(name) ? FYPCF_JSON_FORCE
                                                                  : FYPCF_JSON_NONE));
    pcfg.diag = diag;
    fyp = fy_parser_create(&pcfg);
  }
  /* libfyaml wants a non-NULL pointer even for empty input */
  if (!fyp || fy_parser_set_string(fyp, len ? data : "", len) != 0) {
    if (fyp) fy_parser_destroy(fyp);
    if (diag) fy_diag_destroy(diag);
    free(stack);
    free(doc);
    set_err(err, name, 0, 0, "out of memory");
    return NULL;
  }

  builder b = {0};
  b.lim = lim;
  b.err = err;
  b.doc = doc;
  b.stack = stack;
  b.last.line = b.last.col = 1;
  b.input = len ? data : "";
  b.input_len = len;

  bool ended = false;
  struct fy_event *e;
  while (!b.failed && (e = fy_parser_parse(fyp)) != NULL) {
    if (e->type == FYET_STREAM_END) ended = true;
    on_event(&b, e);
    fy_parser_event_free(fyp, e);
    if (ended) break;
  }
  if (!b.failed && (!ended || fy_parser_get_stream_error(fyp))) {
    void *it = NULL;
    struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
    yaml_pos pos = {0, 0};
    if (de) {
      pos.line = de->line > 0 ? de->line : 0;
      pos.col = de->column > 0 ? de->column : 0;
      fail(&b, pos, "%s", de->msg && *de->msg ? de->msg : "invalid YAML");
    } else {
      fail(&b, pos, "invalid %s", has_json_suffix(name) ? "JSON" : "YAML");
    }
  }
  fy_parser_destroy(fyp);
  fy_diag_destroy(diag);
  anchor_tab_free(&b.anchors);
  free(b.scratch);
  free(stack);

  if (b.failed) {
    if (err) {
      size_t n = strlen(err->msg);
      while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == '\r')) err->msg[--n] = '\0';
    }
    yaml_free(doc);
    return NULL;
  }
  if (!doc->root) doc->root = json_null(); /* empty stream */
  return doc;
}

yaml_doc *yaml_load_file(const char *path, const yaml_limits *lim, yaml_error *err) {
  yaml_limits defaults = yaml_default_limits();
  if (!lim) lim = &defaults;
  if (err) memset(err, 0, sizeof *err);
  /* O_NONBLOCK: opening a FIFO must not hang; only regular files are read */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    set_err(err, path, 0, 0, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    set_err(err, path, 0, 0, "cannot stat: %s", strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    set_err(err, path, 0, 0, "not a regular file");
    close(fd);
    return NULL;
  }
  if ((uint64_t)st.st_size > lim->max_bytes) {
    set_err(err, path, 0, 0, "file is too large (%lld bytes, the limit is %zu)",
            (long long)st.st_size, lim->max_bytes);
    close(fd);
    return NULL;
  }
  /* read one byte more than allowed so a file that grew since fstat is caught */
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) {
    set_err(err, path, 0, 0, "out of memory");
    close(fd);
    return NULL;
  }
  for (;;) {
    if (len == cap) {
      if (cap > lim->max_bytes) break;
      size_t ncap = cap * 2 > lim->max_bytes + 1 ? lim->max_bytes + 1 : cap * 2;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        free(buf);
        close(fd);
        set_err(err, path, 0, 0, "out of memory");
        return NULL;
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      set_err(err, path, 0, 0, "cannot read: %s", strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  if (len > lim->max_bytes) {
    set_err(err, path, 0, 0, "file is too large (more than %zu bytes)", lim->max_bytes);
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  yaml_doc *d = yaml_parse(path, buf, len, lim, err);
  free(buf);
  return d;
}
