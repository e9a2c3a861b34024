/* core/mf_fields.c — the fields of each entry kind and of a manifest's top level: unknown
 * fields, types, numbers, durations, byte sizes, policy shapes, and the Lua sources (read
 * once, compiled once to report syntax errors). References are only recorded here
 * (mf_pending); core/mf_resolve.c checks them once every file is read.
 *
 * Messages name the field by its path inside the entry ("lifecycle.restart.jitter") and point
 * at the value when there is one, at the key for unknown fields, and at the entry for missing
 * required fields. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/duration.h"
#include "core/manifest.h"
#include "core/mf_internal.h"

#define MF_LUA_MEM_MAX ((size_t)256 << 20) /* what compiling one source may allocate */

/* ---- generic field helpers ---- */

static yaml_pos vpos(mf_ctx *c, const json_t *obj, const char *key) {
  return yaml_pos_value(c->doc, obj, key);
}

static yaml_pos kpos(mf_ctx *c, const json_t *obj, const char *key) {
  return yaml_pos_key(c->doc, obj, key);
}

static yaml_pos opos(mf_ctx *c, const json_t *obj) { return yaml_pos_node(c->doc, obj); }

static char *path_of(mf_ctx *c, const char *prefix, const char *key) {
  char *p = mf_printf(c->ld->ar, "%s%s", prefix, key);
  return p ? p : (char *)key;
}

/* Reports every key of obj not in allowed (NULL-terminated). what: "" for an entry's own
 * fields (then the kind is named), else the path of obj ("lifecycle.restart"). */
static void check_keys(mf_ctx *c, const json_t *obj, const char *what, const char *kind,
                       const char *const *allowed) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
    if (ok) continue;
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (const char *const *a = allowed; *a && o < sizeof list - 1; a++) {
      int w = snprintf(list + o, sizeof list - o, "%s%s", a == allowed ? "" : ", ", *a);
      o = w < 0 ? sizeof list - 1 : o + (size_t)w;
    }
    if (*what)
      mf_err(c, kpos(c, obj, key), "%s: unknown field \"%.80s\" (allowed: %s)", what, key, list);
    else
      mf_err(c, kpos(c, obj, key), "unknown field \"%.80s\" for kind %s (allowed: %s)", key, kind,
             list);
  }
}

/* obj[key] as an object (NULL when absent or wrong, reported). */
static const json_t *get_object(mf_ctx *c, const json_t *obj, const char *key, const char *name) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (!json_is_object(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected a mapping, got %s", name, mf_type_name(v));
    return NULL;
  }
  return v;
}

/* obj[key] as a non-empty string (NULL when absent or wrong; wrong is reported). */
static const char *get_string(mf_ctx *c, const json_t *obj, const char *key, const char *name) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (!json_is_string(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected a string, got %s", name, mf_type_name(v));
    return NULL;
  }
  if (json_string_length(v) == 0) {
    mf_err(c, vpos(c, obj, key), "%s: must not be empty", name);
    return NULL;
  }
  if (strlen(json_string_value(v)) != json_string_length(v)) {
    mf_err(c, vpos(c, obj, key), "%s: must not contain NUL bytes", name);
    return NULL;
  }
  return json_string_value(v);
}

static bool get_bool(mf_ctx *c, const json_t *obj, const char *key, const char *name, bool *out) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return true;
  if (!json_is_boolean(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected true or false, got %s%s", name, mf_type_name(v),
           json_is_string(v) ? " (YAML 1.2: yes/no/on/off are strings)" : "");
    return false;
  }
  *out = json_is_true(v);
  return true;
}

/* An integer in [min, max]; *out untouched when absent. */
static bool get_int(mf_ctx *c, const json_t *obj, const char *key, const char *name, int64_t min,
                    int64_t max, int64_t *out) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return true;
  if (!json_is_integer(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected an integer, got %s", name, mf_type_name(v));
    return false;
  }
  int64_t x = (int64_t)json_integer_value(v);
  if (x < min || x > max) {
    if (max == INT64_MAX)
      mf_err(c, vpos(c, obj, key), "%s: must be at least %lld, got %lld", name, (long long)min,
             (long long)x);
    else
      mf_err(c, vpos(c, obj, key), "%s: must be between %lld and %lld, got %lld", name,
             (long long)min, (long long)max, (long long)x);
    return false;
  }
  *out = x;
  return true;
}

/* A number (integer or real) in [min, max]. */
static bool get_number(mf_ctx *c, const json_t *obj, const char *key, const char *name, double min,
                       double max, double *out) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return true;
  if (!json_is_number(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected a number, got %s", name, mf_type_name(v));
    return false;
  }
  double x = json_number_value(v);
  if (!(x >= min && x <= max)) {
    mf_err(c, vpos(c, obj, key), "%s: must be between %g and %g, got %g", name, min, max, x);
    return false;
  }
  *out = x;
  return true;
}

/* A Go duration string >= min (0 or 1 ns); *out untouched when absent. */
static bool get_duration(mf_ctx *c, const json_t *obj, const char *key, const char *name,
                         int64_t min, int64_t *out) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return true;
  if (!json_is_string(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected a duration string such as \"1s\" or \"1m30s\", got %s",
           name, mf_type_name(v));
    return false;
  }
  char msg[256];
  int64_t ns = 0;
  if (!dur_parse(json_string_value(v), json_string_length(v), &ns, msg, sizeof msg)) {
    mf_err(c, vpos(c, obj, key), "%s: %s", name, msg);
    return false;
  }
  if (ns < min) {
    mf_err(c, vpos(c, obj, key), "%s: must be %s, got \"%s\"", name,
           min > 0 ? "greater than zero" : "zero or more", json_string_value(v));
    return false;
  }
  *out = ns;
  return true;
}

/* A sequence of non-empty strings into a NULL-terminated arena array (each kept as its element
 * index's position in *poss when poss is given). Returns false when absent or wrong. */
static bool get_string_list(mf_ctx *c, const json_t *obj, const char *key, const char *name,
                            const char ***out, yaml_pos **poss, size_t *n) {
  const json_t *v = json_object_get(obj, key);
  *n = 0;
  if (!v) return false;
  if (!json_is_array(v)) {
    mf_err(c, vpos(c, obj, key), "%s: expected a sequence of strings, got %s", name,
           mf_type_name(v));
    return false;
  }
  size_t len = json_array_size(v);
  const char **arr = mf_alloc(c->ld->ar, (len + 1) * sizeof *arr);
  yaml_pos *pos = poss ? mf_alloc(c->ld->ar, (len + 1) * sizeof *pos) : NULL;
  if (!arr || (poss && !pos)) return false;
  bool ok = true;
  for (size_t i = 0; i < len; i++) {
    const json_t *s = json_array_get(v, i);
    yaml_pos p = yaml_pos_index(c->doc, v, i);
    if (!json_is_string(s) || json_string_length(s) == 0 ||
        strlen(json_string_value(s)) != json_string_length(s)) {
      mf_err(c, p, "%s[%zu]: expected a non-empty string, got %s", name, i,
             json_is_string(s) ? "an empty or NUL-holding string" : mf_type_name(s));
      ok = false;
      continue;
    }
    if (pos) pos[*n] = p;
    arr[(*n)++] = json_string_value(s);
  }
  *out = arr;
  if (poss) *poss = pos;
  return ok;
}

/* "ns:name" stays, "name" becomes "<entry ns>:name". */
static const char *qualify(mf_ctx *c, const char *ref) {
  if (strchr(ref, ':')) return ref;
  const char *q = mf_printf(c->ld->ar, "%s:%s", c->ns, ref);
  return q ? q : ref;
}

static void set_ref(mf_ctx *c, mf_ref *r, const char *ref, yaml_pos pos, const char *field) {
  r->id = qualify(c, ref);
  r->pos = pos;
  r->field = field;
}

/* A list of references (requires, groups, policies) appended to *refs, deduplicated. */
static void add_refs(mf_ctx *c, const json_t *obj, const char *key, const char *name,
                     mf_ref **refs, size_t *nrefs) {
  const char **ids;
  yaml_pos *pos;
  size_t n;
  get_string_list(c, obj, key, name, &ids, &pos, &n);
  if (!n) return;
  mf_ref *v = mf_alloc(c->ld->ar, (*nrefs + n) * sizeof *v);
  if (!v) return;
  if (*nrefs) memcpy(v, *refs, *nrefs * sizeof *v);
  size_t m = *nrefs;
  for (size_t i = 0; i < n; i++) {
    const char *id = qualify(c, ids[i]);
    bool seen = false;
    for (size_t k = 0; k < m && !seen; k++) seen = strcmp(v[k].id, id) == 0;
    if (seen) continue;
    v[m].id = id;
    v[m].pos = pos[i];
    v[m].field = name;
    m++;
  }
  *refs = v;
  *nrefs = m;
}

/* Module names and import aliases: [A-Za-z0-9_.-]+, at most 128 bytes. */
static bool module_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '.' || ch == '-'))
      return false;
  }
  return true;
}

/* ---- byte sizes ---- */

bool mf_parse_bytes(const char *s, uint64_t *out, char *err, size_t errlen) {
  static const struct {
    const char *unit;
    uint64_t mul;
  } units[] = {{"b", 1},
               {"kb", UINT64_C(1000)},
               {"mb", UINT64_C(1000000)},
               {"gb", UINT64_C(1000000000)},
               {"tb", UINT64_C(1000000000000)},
               {"kib", UINT64_C(1) << 10},
               {"mib", UINT64_C(1) << 20},
               {"gib", UINT64_C(1) << 30},
               {"tib", UINT64_C(1) << 40}};
  const uint64_t limit = UINT64_C(1) << 62;
  if (!err) errlen = 0;
  size_t i = 0;
  uint64_t v = 0;
  while (s[i] >= '0' && s[i] <= '9') {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (limit - d) / 10) {
      if (errlen) snprintf(err, errlen, "size \"%.40s\" is too large", s);
      return false;
    }
    v = v * 10 + d;
    i++;
  }
  if (i == 0) {
    if (errlen)
      snprintf(err, errlen, "invalid size \"%.40s\" (expected digits and a unit such as 64MiB or 512MB)", s);
    return false;
  }
  while (s[i] == ' ') i++;
  const char *u = s + i;
  if (!*u) {
    *out = v;
    return true;
  }
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
    if (strcasecmp(u, units[k].unit) != 0) continue;
    if (v > limit / units[k].mul) {
      if (errlen) snprintf(err, errlen, "size \"%.40s\" is too large", s);
      return false;
    }
    *out = v * units[k].mul;
    return true;
  }
  if (errlen) {
    if (strlen(u) == 1 && strchr("kKmMgGtT", u[0]))
      snprintf(err, errlen, "ambiguous unit \"%s\" in \"%.40s\" (write %cB for powers of 1000 or %ciB for powers of 1024)",
               u, s, u[0] & ~0x20, u[0] & ~0x20);
    else
      snprintf(err, errlen, "unknown unit \"%.20s\" in \"%.40s\" (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", u, s);
  }
  return false;
}

/* ---- Lua sources ---- */

static void *lua_capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mf_loader *ld = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    ld->lua_mem -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > MF_LUA_MEM_MAX - ld->lua_mem) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  ld->lua_mem = ld->lua_mem - old + nsize;
  return p;
}

/* Compiles the source; a syntax error is reported at its line in the Lua file. */
static void compile_source(mf_ctx *c, const mf_entry *e, yaml_pos srcpos) {
  mf_loader *ld = c->ld;
  if (!ld->L) {
    ld->L = lua_newstate(lua_capped_alloc, ld);
    if (!ld->L) {
      mf_err(c, srcpos, "source: out of memory while compiling");
      return;
    }
  }
  int rc = luaL_loadbufferx(ld->L, e->source, e->source_len, "=src", "t");
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(ld->L, -1);
    if (!msg) msg = "?";
    long line = 0;
    const char *rest = msg;
    if (strncmp(msg, "src:", 4) == 0) {
      char *end;
      line = strtol(msg + 4, &end, 10);
      if (end != msg + 4 && *end == ':') {
        rest = end + 1;
        while (*rest == ' ') rest++;
      } else {
        line = 0;
      }
    }
    if (rc == LUA_ERRMEM)
      mf_err(c, srcpos, "source %s: out of memory while compiling", e->source_path);
    else
      mf_errors_add(ld->errs, e->source_path, line > 0 && line < INT_MAX ? (int)line : 0, 0, e->id,
                    "Lua syntax error: %s", rest);
  }
  lua_settop(ld->L, 0);
  lua_gc(ld->L, LUA_GCCOLLECT, 0);
}

/* Reads the file named by `source: file://path` (relative to the manifest's directory). */
static void load_source(mf_ctx *c, mf_entry *e, const json_t *obj) {
  const json_t *v = json_object_get(obj, "source");
  if (!v) {
    mf_err(c, yaml_pos_node(c->doc, obj), "missing required field \"source\"");
    return;
  }
  const char *src = get_string(c, obj, "source", "source");
  if (!src) return;
  yaml_pos pos = vpos(c, obj, "source");
  if (strncmp(src, "file://", 7) != 0 || !src[7]) {
    mf_err(c, pos, "source: expected file://<path relative to the manifest>, got \"%.80s\"", src);
    return;
  }
  const char *rel = src + 7;
  while (rel[0] == '.' && rel[1] == '/') rel += 2;
  const char *slash = strrchr(c->file, '/');
  char *path = rel[0] == '/' || !slash
                   ? mf_strdup(c->ld->ar, rel)
                   : mf_printf(c->ld->ar, "%.*s/%s", (int)(slash - c->file), c->file, rel);
  if (!path) return;
  e->source_path = path;

  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (fd < 0) {
    mf_err(c, pos, "source: cannot read %s: %s", path, strerror(errno));
    return;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    mf_err(c, pos, "source: %s is not a regular file", path);
    close(fd);
    return;
  }
  if ((uint64_t)st.st_size > MF_MAX_SOURCE_BYTES) {
    mf_err(c, pos, "source: %s is too large (%lld bytes, the limit is %zu)", path,
           (long long)st.st_size, MF_MAX_SOURCE_BYTES);
    close(fd);
    return;
  }
  if ((size_t)st.st_size > MF_MAX_TOTAL_SOURCE_BYTES - c->ld->source_bytes) {
    mf_err(c, pos, "source: the app's sources exceed %zu bytes together",
           MF_MAX_TOTAL_SOURCE_BYTES);
    close(fd);
    return;
  }
  size_t cap = (size_t)st.st_size, len = 0;
  char *buf = mf_alloc(c->ld->ar, cap + 1);
  if (!buf) {
    mf_err(c, pos, "source: out of memory");
    close(fd);
    return;
  }
  while (len < cap) {
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      mf_err(c, pos, "source: cannot read %s: %s", path, strerror(errno));
      close(fd);
      return;
    }
    if (r == 0) break; /* shrank meanwhile: take what is there */
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  c->ld->source_bytes += len;
  e->source = buf;
  e->source_len = len;
  compile_source(c, e, pos);
}

/* ---- kinds ---- */

static void parse_code(mf_ctx *c, mf_entry *e, mf_pending *p) {
  const json_t *o = e->raw;
  load_source(c, e, o);
  if (e->kind != MF_LIBRARY_LUA) e->method = get_string(c, o, "method", "method");

  const char **mods = NULL;
  yaml_pos *mpos = NULL;
  size_t n = 0;
  get_string_list(c, o, "modules", "modules", &mods, &mpos, &n);
  for (size_t i = 0; i < n; i++)
    if (!module_name_ok(mods[i]))
      mf_err(c, mpos[i], "modules[%zu]: \"%.80s\" is not a module name", i, mods[i]);
  if (!mods) mods = mf_alloc(c->ld->ar, sizeof *mods);
  e->modules = mods;
  e->nmodules = n;

  const json_t *imports = get_object(c, o, "imports", "imports");
  size_t ni = imports ? json_object_size(imports) : 0;
  if (ni) {
    mf_import *im = mf_alloc(c->ld->ar, ni * sizeof *im);
    p->imports = mf_alloc(c->ld->ar, ni * sizeof *p->imports);
    if (!im || !p->imports) return;
    const char *alias;
    json_t *target;
    json_object_foreach((json_t *)imports, alias, target) {
      char *name = path_of(c, "imports.", alias);
      if (!module_name_ok(alias)) {
        mf_err(c, kpos(c, imports, alias), "imports: \"%.80s\" is not a module name", alias);
        continue;
      }
      const char *ref = get_string(c, imports, alias, name);
      if (!ref) continue;
      im[e->nimports].alias = alias;
      set_ref(c, &p->imports[e->nimports], ref, vpos(c, imports, alias), name);
      e->nimports++;
    }
    e->imports = im;
    p->nimports = e->nimports;
  }

  if (e->kind == MF_FUNCTION_LUA && e->meta) {
    const json_t *t = json_object_get(e->meta, "type");
    e->is_test = json_is_string(t) && strcmp(json_string_value(t), "test") == 0;
  }
}

static void parse_host(mf_ctx *c, mf_entry *e) {
  static const char *const host_keys[] = {"workers", "memory_limit", "max_processes",
                                          "queue_size", "local_queue_size", NULL};
  static const char *const lc_keys[] = {"auto_start", NULL};
  const json_t *h = get_object(c, e->raw, "host", "host");
  if (h) {
    check_keys(c, h, "host", NULL, host_keys);
    int64_t x = 0;
    if (get_int(c, h, "workers", "host.workers", 1, 1024, &x)) e->host.workers = (int)x;
    get_int(c, h, "max_processes", "host.max_processes", 1, INT64_MAX, &e->host.max_processes);
    get_int(c, h, "queue_size", "host.queue_size", 1, INT32_MAX, &e->host.queue_size);
    get_int(c, h, "local_queue_size", "host.local_queue_size", 1, INT32_MAX,
            &e->host.local_queue_size);
    const json_t *m = json_object_get(h, "memory_limit");
    if (m) {
      uint64_t bytes = 0;
      char msg[200];
      bool ok = true;
      if (json_is_integer(m)) {
        if (json_integer_value(m) < 0) {
          snprintf(msg, sizeof msg, "must not be negative");
          ok = false;
        } else {
          bytes = (uint64_t)json_integer_value(m);
        }
      } else if (json_is_string(m)) {
        ok = mf_parse_bytes(json_string_value(m), &bytes, msg, sizeof msg);
      } else {
        snprintf(msg, sizeof msg, "expected bytes or a size such as \"64MiB\", got %s",
                 mf_type_name(m));
        ok = false;
      }
      if (ok && bytes != 0 && (bytes < (UINT64_C(1) << 20) || bytes > (UINT64_C(1) << 40))) {
        snprintf(msg, sizeof msg, "must be 0 (the default) or between 1MiB and 1TiB, got %llu bytes",
                 (unsigned long long)bytes);
        ok = false;
      }
      if (ok) e->host.memory_limit = bytes;
      else mf_err(c, vpos(c, h, "memory_limit"), "host.memory_limit: %s", msg);
    }
  }
  const json_t *lc = get_object(c, e->raw, "lifecycle", "lifecycle");
  if (lc) {
    check_keys(c, lc, "lifecycle", NULL, lc_keys);
    get_bool(c, lc, "auto_start", "lifecycle.auto_start", &e->host.auto_start);
  }
}

static void parse_security(mf_ctx *c, mf_entry *e, mf_pending *p, const json_t *lc) {
  static const char *const sec_keys[] = {"actor", "groups", "policies", NULL};
  static const char *const actor_keys[] = {"id", "meta", NULL};
  const json_t *s = get_object(c, lc, "security", "lifecycle.security");
  if (!s) return;
  mf_security *sec = &e->lifecycle.security;
  sec->present = true;
  check_keys(c, s, "lifecycle.security", NULL, sec_keys);
  if (json_object_size(s) == 0) {
    mf_err(c, vpos(c, lc, "security"),
           "lifecycle.security: empty block (give an actor, groups or policies)");
    return;
  }
  const json_t *actor = get_object(c, s, "actor", "lifecycle.security.actor");
  if (actor) {
    check_keys(c, actor, "lifecycle.security.actor", NULL, actor_keys);
    sec->actor_id = get_string(c, actor, "id", "lifecycle.security.actor.id");
    if (!json_object_get(actor, "id"))
      mf_err(c, vpos(c, s, "actor"), "lifecycle.security.actor: missing required field \"id\"");
    sec->actor_meta = get_object(c, actor, "meta", "lifecycle.security.actor.meta");
  }
  add_refs(c, s, "groups", "lifecycle.security.groups", &p->sec_groups, &p->nsec_groups);
  add_refs(c, s, "policies", "lifecycle.security.policies", &p->sec_policies,
           &p->nsec_policies);
}

static void parse_service(mf_ctx *c, mf_entry *e, mf_pending *p) {
  static const char *const lc_keys[] = {"auto_start", "start_timeout", "stop_timeout",
                                        "stable_threshold", "requires", "depends_on",
                                        "restart", "security", NULL};
  static const char *const restart_keys[] = {"initial_delay", "max_delay", "backoff_factor",
                                             "jitter", "max_attempts", NULL};
  const json_t *o = e->raw;
  mf_lifecycle *lc = &e->lifecycle;
  lc->auto_start = false;
  lc->start_timeout_ns = 10 * DUR_SECOND;
  lc->stop_timeout_ns = 10 * DUR_SECOND;
  lc->stable_threshold_ns = 5 * DUR_SECOND;
  lc->restart.initial_delay_ns = DUR_SECOND;
  lc->restart.max_delay_ns = 90 * DUR_SECOND;
  lc->restart.backoff_factor = 2.0;
  lc->restart.jitter = 0.1;
  lc->restart.max_attempts = 0;

  const char *proc = get_string(c, o, "process", "process");
  if (proc) set_ref(c, &p->process, proc, vpos(c, o, "process"), "process");
  else if (!json_object_get(o, "process"))
    mf_err(c, opos(c, o), "missing required field \"process\"");
  const char *host = get_string(c, o, "host", "host");
  if (host) set_ref(c, &p->host, host, vpos(c, o, "host"), "host");
  const json_t *input = json_object_get(o, "input");
  if (input && !json_is_array(input))
    mf_err(c, vpos(c, o, "input"), "input: expected a sequence (the process's arguments), got %s",
           mf_type_name(input));
  else e->input = input;

  const json_t *l = get_object(c, o, "lifecycle", "lifecycle");
  if (!l) return;
  check_keys(c, l, "lifecycle", NULL, lc_keys);
  get_bool(c, l, "auto_start", "lifecycle.auto_start", &lc->auto_start);
  get_duration(c, l, "start_timeout", "lifecycle.start_timeout", 1, &lc->start_timeout_ns);
  get_duration(c, l, "stop_timeout", "lifecycle.stop_timeout", 1, &lc->stop_timeout_ns);
  get_duration(c, l, "stable_threshold", "lifecycle.stable_threshold", 0,
               &lc->stable_threshold_ns);
  add_refs(c, l, "requires", "lifecycle.requires", &p->requires, &p->nrequires);
  add_refs(c, l, "depends_on", "lifecycle.depends_on", &p->requires, &p->nrequires);

  const json_t *r = get_object(c, l, "restart", "lifecycle.restart");
  if (r) {
    mf_restart *rs = &lc->restart;
    check_keys(c, r, "lifecycle.restart", NULL, restart_keys);
    bool ok1 = get_duration(c, r, "initial_delay", "lifecycle.restart.initial_delay", 0,
                            &rs->initial_delay_ns);
    bool ok2 = get_duration(c, r, "max_delay", "lifecycle.restart.max_delay", 0, &rs->max_delay_ns);
    if (ok1 && ok2 && rs->max_delay_ns < rs->initial_delay_ns) {
      char a[DUR_FORMAT_MAX], b[DUR_FORMAT_MAX];
      dur_format(rs->max_delay_ns, a, sizeof a);
      dur_format(rs->initial_delay_ns, b, sizeof b);
      mf_err(c, json_object_get(r, "max_delay") ? vpos(c, r, "max_delay") : opos(c, r),
             "lifecycle.restart.max_delay: %s is less than initial_delay %s", a, b);
    }
    get_number(c, r, "backoff_factor", "lifecycle.restart.backoff_factor", 1.0, 1000.0,
               &rs->backoff_factor);
    get_number(c, r, "jitter", "lifecycle.restart.jitter", 0.0, 1.0, &rs->jitter);
    get_int(c, r, "max_attempts", "lifecycle.restart.max_attempts", 0, INT64_MAX,
            &rs->max_attempts);
  }
  parse_security(c, e, p, l);
}

/* ---- policies (the shape security/policy.h parses; checked here so `wisp check` reports
 * every problem with its position) ---- */

static bool field_path_ok(const char *s) {
  static const char *const exact[] = {"action", "resource", "actor.id", "actor.meta", "meta", NULL};
  for (const char *const *x = exact; *x; x++)
    if (strcmp(s, *x) == 0) return true;
  const char *rest = NULL;
  if (strncmp(s, "actor.meta.", 11) == 0) rest = s + 11;
  else if (strncmp(s, "meta.", 5) == 0) rest = s + 5;
  if (!rest || !*rest) return false;
  for (const char *q = rest; *q; q++) /* dotted keys, none empty */
    if (*q == '.' && (q == rest || q[1] == '.' || q[1] == '\0')) return false;
  return true;
}

static void check_patterns(mf_ctx *c, const json_t *pol, const char *key) {
  const json_t *v = json_object_get(pol, key);
  char name[64];
  snprintf(name, sizeof name, "policy.%s", key);
  if (!v) {
    mf_err(c, opos(c, pol), "%s: missing (a pattern or a list of patterns)", name);
    return;
  }
  if (json_is_string(v)) return;
  if (!json_is_array(v) || json_array_size(v) == 0) {
    mf_err(c, vpos(c, pol, key), "%s: expected a pattern or a non-empty list of patterns, got %s",
           name, json_is_array(v) ? "an empty sequence" : mf_type_name(v));
    return;
  }
  for (size_t i = 0; i < json_array_size(v); i++)
    if (!json_is_string(json_array_get(v, i)))
      mf_err(c, yaml_pos_index(c->doc, v, i), "%s[%zu]: expected a string, got %s", name, i,
             mf_type_name(json_array_get(v, i)));
}

static void check_condition(mf_ctx *c, const json_t *cond, size_t i) {
  static const char *const keys[] = {"field", "operator", "value", "value_from", NULL};
  static const char *const ops[] = {"eq", "ne", "lt", "gt", "lte", "gte", "in", "nin", "exists",
                                    "nexists", "contains", "ncontains", "matches", "nmatches",
                                    NULL};
  char where[64];
  snprintf(where, sizeof where, "policy.conditions[%zu]", i);
  check_keys(c, cond, where, NULL, keys);
  char *fname = path_of(c, where, ".field");
  char *oname = path_of(c, where, ".operator");
  const char *field = get_string(c, cond, "field", fname);
  if (!json_object_get(cond, "field")) mf_err(c, opos(c, cond), "%s: missing \"field\"", where);
  else if (field && !field_path_ok(field))
    mf_err(c, vpos(c, cond, "field"),
           "%s: unknown field \"%.80s\" (action, resource, actor.id, actor.meta[.key...], "
           "meta[.key...])", fname, field);
  const char *op = get_string(c, cond, "operator", oname);
  if (!json_object_get(cond, "operator")) {
    mf_err(c, opos(c, cond), "%s: missing \"operator\"", where);
    return;
  }
  if (!op) return;
  bool known = false;
  for (const char *const *x = ops; *x && !known; x++) known = strcmp(op, *x) == 0;
  if (!known) {
    mf_err(c, vpos(c, cond, "operator"),
           "%s: unknown operator \"%.40s\" (eq ne lt gt lte gte in nin exists nexists contains "
           "ncontains matches nmatches)", oname, op);
    return;
  }
  const json_t *value = json_object_get(cond, "value");
  const json_t *from = json_object_get(cond, "value_from");
  bool exists = strcmp(op, "exists") == 0 || strcmp(op, "nexists") == 0;
  bool matches = strcmp(op, "matches") == 0 || strcmp(op, "nmatches") == 0;
  if (value && from) {
    mf_err(c, vpos(c, cond, "value_from"), "%s: give value or value_from, not both", where);
    return;
  }
  if (!value && !from && !exists) {
    mf_err(c, opos(c, cond), "%s: operator %s needs value or value_from", where, op);
    return;
  }
  if (from) {
    char *name = path_of(c, where, ".value_from");
    if (matches) {
      mf_err(c, vpos(c, cond, "value_from"), "%s: %s takes a literal regex in value", name, op);
      return;
    }
    const char *f = get_string(c, cond, "value_from", name);
    if (f && !field_path_ok(f))
      mf_err(c, vpos(c, cond, "value_from"), "%s: unknown field \"%.80s\"", name, f);
    return;
  }
  if (!value) return;
  char *vname = path_of(c, where, ".value");
  if ((strcmp(op, "in") == 0 || strcmp(op, "nin") == 0) && !json_is_array(value)) {
    mf_err(c, vpos(c, cond, "value"), "%s: %s needs a sequence, got %s", vname, op,
           mf_type_name(value));
  } else if (matches) {
    if (!json_is_string(value)) {
      mf_err(c, vpos(c, cond, "value"), "%s: %s needs a regex string, got %s", vname, op,
             mf_type_name(value));
      return;
    }
    if (strlen(json_string_value(value)) != json_string_length(value)) {
      mf_err(c, vpos(c, cond, "value"), "%s: the regex must not contain NUL bytes", vname);
      return;
    }
    regex_t re;
    int rc = regcomp(&re, json_string_value(value), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char msg[128];
      regerror(rc, &re, msg, sizeof msg);
      mf_err(c, vpos(c, cond, "value"), "%s: invalid regex: %s", vname, msg);
      return;
    }
    regfree(&re);
  }
}

static void parse_policy(mf_ctx *c, mf_entry *e, mf_pending *p) {
  static const char *const pol_keys[] = {"actions", "resources", "effect", "conditions", NULL};
  const json_t *o = e->raw;
  const json_t *pol = get_object(c, o, "policy", "policy");
  if (!json_object_get(o, "policy")) mf_err(c, opos(c, o), "missing required field \"policy\"");
  if (pol) {
    e->policy = pol;
    check_keys(c, pol, "policy", NULL, pol_keys);
    check_patterns(c, pol, "actions");
    check_patterns(c, pol, "resources");
    const json_t *eff = json_object_get(pol, "effect");
    if (!eff)
      mf_err(c, opos(c, pol), "policy.effect: missing (allow or deny)");
    else if (!json_is_string(eff) || (strcmp(json_string_value(eff), "allow") != 0 &&
                                      strcmp(json_string_value(eff), "deny") != 0))
      mf_err(c, vpos(c, pol, "effect"), "policy.effect: must be \"allow\" or \"deny\", got %s%.40s%s",
             json_is_string(eff) ? "\"" : "", json_is_string(eff) ? json_string_value(eff) : mf_type_name(eff),
             json_is_string(eff) ? "\"" : "");
    const json_t *conds = json_object_get(pol, "conditions");
    if (conds && !json_is_array(conds)) {
      mf_err(c, vpos(c, pol, "conditions"), "policy.conditions: expected a sequence, got %s",
             mf_type_name(conds));
    } else if (conds) {
      for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *cond = json_array_get(conds, i);
        if (!json_is_object(cond))
          mf_err(c, yaml_pos_index(c->doc, conds, i),
                 "policy.conditions[%zu]: expected a mapping, got %s", i, mf_type_name(cond));
        else
          check_condition(c, cond, i);
      }
    }
  }
  const char **groups;
  yaml_pos *gpos;
  size_t n;
  get_string_list(c, o, "groups", "groups", &groups, &gpos, &n);
  const char **ids = mf_alloc(c->ld->ar, (n + 1) * sizeof *ids);
  if (!ids) return;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const char *g = groups[i], *colon = strchr(g, ':');
    const char *name = colon ? colon + 1 : g;
    bool ok = *name && !strchr(name, ':') && module_name_ok(name) && (!colon || colon > g);
    if (!ok) {
      mf_err(c, gpos[i], "groups[%zu]: \"%.80s\" is not a group name ([ns:]name)", i, g);
      continue;
    }
    const char *id = qualify(c, g);
    bool seen = false;
    for (size_t k = 0; k < m && !seen; k++) seen = strcmp(ids[k], id) == 0;
    if (!seen) ids[m++] = id;
  }
  e->groups = ids;
  e->ngroups = m;
  p->groups_pos = json_object_get(o, "groups") ? vpos(c, o, "groups") : opos(c, o);
}

void mf_parse_entry(mf_ctx *c, mf_entry *e, mf_pending *p) {
  static const char *const code_keys[] = {"name", "kind", "meta", "source", "method",
                                          "modules", "imports", NULL};
  static const char *const lib_keys[] = {"name", "kind", "meta", "source", "modules",
                                         "imports", NULL};
  static const char *const host_keys[] = {"name", "kind", "meta", "host", "lifecycle", NULL};
  static const char *const svc_keys[] = {"name", "kind", "meta", "process", "host", "input",
                                         "lifecycle", NULL};
  static const char *const pol_keys[] = {"name", "kind", "meta", "policy", "groups", NULL};
  static const char *const *const keys[MF_KIND_COUNT] = {code_keys, code_keys, lib_keys,
                                                         host_keys, svc_keys, pol_keys};
  static const char *const empty[] = {NULL};
  e->modules = empty;
  check_keys(c, e->raw, "", mf_kind_name(e->kind), keys[e->kind]);
  e->meta = get_object(c, e->raw, "meta", "meta");
  switch (e->kind) {
  case MF_PROCESS_LUA:
  case MF_FUNCTION_LUA:
  case MF_LIBRARY_LUA: parse_code(c, e, p); break;
  case MF_PROCESS_HOST: parse_host(c, e); break;
  case MF_PROCESS_SERVICE: parse_service(c, e, p); break;
  case MF_SECURITY_POLICY: parse_policy(c, e, p); break;
  default: break;
  }
}

/* ---- the top level ---- */

void mf_parse_toplevel(mf_ctx *c, const json_t *root) {
  static const char *const keys[] = {"version", "namespace", "entries", "security",
                                     "shutdown_timeout", NULL};
  static const char *const sec_keys[] = {"strict", NULL};
  mf_loader *ld = c->ld;
  mf_app *app = ld->app;
  check_keys(c, root, "manifest", NULL, keys);

  const json_t *ver = json_object_get(root, "version");
  if (ver) {
    bool ok = (json_is_string(ver) && (strcmp(json_string_value(ver), "1.0") == 0 ||
                                       strcmp(json_string_value(ver), "1") == 0)) ||
              (json_is_number(ver) && json_number_value(ver) == 1.0);
    if (!ok)
      mf_err(c, vpos(c, root, "version"), "version: unsupported manifest version (expected \"1.0\")");
  }

  const json_t *sec = get_object(c, root, "security", "security");
  if (sec) {
    check_keys(c, sec, "security", NULL, sec_keys);
    bool strict = app->strict;
    if (json_object_get(sec, "strict") && get_bool(c, sec, "strict", "security.strict", &strict)) {
      yaml_pos pos = vpos(c, sec, "strict");
      if (ld->strict_file && strict != app->strict)
        mf_err(c, pos, "security.strict: set to %s here but to %s at %s:%d:%d",
               strict ? "true" : "false", app->strict ? "true" : "false", ld->strict_file,
               ld->strict_pos.line, ld->strict_pos.col);
      else if (!ld->strict_file) {
        app->strict = strict;
        ld->strict_file = c->file;
        ld->strict_pos = pos;
      }
    }
  }

  int64_t t = 0;
  if (json_object_get(root, "shutdown_timeout") &&
      get_duration(c, root, "shutdown_timeout", "shutdown_timeout", 1, &t)) {
    yaml_pos pos = vpos(c, root, "shutdown_timeout");
    if (ld->shutdown_file && t != app->shutdown_timeout_ns) {
      char a[DUR_FORMAT_MAX], b[DUR_FORMAT_MAX];
      dur_format(t, a, sizeof a);
      dur_format(app->shutdown_timeout_ns, b, sizeof b);
      mf_err(c, pos, "shutdown_timeout: set to %s here but to %s at %s:%d:%d", a, b,
             ld->shutdown_file, ld->shutdown_pos.line, ld->shutdown_pos.col);
    } else if (!ld->shutdown_file) {
      app->shutdown_timeout_ns = t;
      ld->shutdown_file = c->file;
      ld->shutdown_pos = pos;
    }
  }
}
