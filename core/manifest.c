/* core/manifest.c — owns mf_load: the directory walk, reading manifest files, building entries
 * with their ids, the id index (duplicates), and the model's memory (one arena per app).
 *
 * The walk skips hidden names and node_modules, follows symlinks but enters every directory
 * (by device and inode) once, so symlink loops end; names are visited in byte order, so load
 * order and messages are deterministic. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/manifest.h"
#include "core/mf_internal.h"

/* ---- arena ---- */

struct mf_chunk {
  mf_chunk *next;
  size_t used, cap;
  _Alignas(max_align_t) unsigned char data[];
};

void *mf_alloc(mf_arena *a, size_t n) {
  const size_t align = _Alignof(max_align_t);
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + align - 1) & ~(align - 1);
  if (n == 0) n = align;
  if (!a->head || a->head->cap - a->head->used < n) {
    size_t cap = n > 32768 ? n : 32768;
    mf_chunk *c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->used = 0;
    c->cap = cap;
    if (a->head && n > 32768) { /* a big block: keep filling the current chunk afterwards */
      c->next = a->head->next;
      a->head->next = c;
      c->used = n;
      memset(c->data, 0, n);
      return c->data;
    }
    c->next = a->head;
    a->head = c;
  }
  void *p = a->head->data + a->head->used;
  a->head->used += n;
  memset(p, 0, n);
  return p;
}

char *mf_strndup(mf_arena *a, const char *s, size_t n) {
  char *p = mf_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *mf_strdup(mf_arena *a, const char *s) { return mf_strndup(a, s, strlen(s)); }

char *mf_printf(mf_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = mf_alloc(a, (size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void mf_arena_free(mf_arena *a) {
  mf_chunk *c = a->head;
  while (c) {
    mf_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
}

/* ---- small shared helpers ---- */

static const char *const kind_names[MF_KIND_COUNT] = {
    "process.lua", "function.lua", "library.lua", "process.host", "process.service",
    "security.policy"};

const char *mf_kind_name(mf_kind k) {
  return (unsigned)k < MF_KIND_COUNT ? kind_names[k] : "?";
}

static int kind_from_name(const char *s) {
  for (int k = 0; k < MF_KIND_COUNT; k++)
    if (strcmp(s, kind_names[k]) == 0) return k;
  return -1;
}

void mf_err(mf_ctx *c, yaml_pos pos, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  mf_errors_add(c->ld->errs, c->file, pos.line, pos.col, c->entry, "%s", buf);
}

const char *mf_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "a mapping";
  case JSON_ARRAY: return "a sequence";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  default: return "?";
  }
}

/* Namespaces and names: 1..255 bytes of [A-Za-z0-9_.-]. */
static const char *check_ident(const char *s) {
  size_t n = strlen(s);
  if (n == 0) return "must not be empty";
  if (n > 255) return "is longer than 255 bytes";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '.' || ch == '-'))
      return "may only contain letters, digits, '_', '.' and '-'";
  }
  return NULL;
}

/* ---- the walk ---- */

typedef struct walk_file {
  char *path;
  long long size;
} walk_file;

typedef struct walk {
  mf_loader *ld;
  walk_file *files;
  size_t nfiles, capfiles;
  struct {
    dev_t dev;
    ino_t ino;
  } *dirs;
  size_t ndirs, capdirs;
  bool too_many;
} walk;

static bool is_candidate(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
         (n > 4 && strcasecmp(name + n - 4, ".yml") == 0) ||
         (n > 5 && strcasecmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_file(walk *w, const char *path, long long size) {
  if (w->nfiles >= MF_MAX_FILES) {
    if (!w->too_many)
      mf_errors_add(w->ld->errs, path, 0, 0, NULL,
                    "more than %d manifest candidates (.yaml .yml .json) in the app; the rest "
                    "are not read", MF_MAX_FILES);
    w->too_many = true;
    return;
  }
  if (w->nfiles == w->capfiles) {
    size_t cap = w->capfiles ? w->capfiles * 2 : 32;
    walk_file *v = realloc(w->files, cap * sizeof *v);
    if (!v) return;
    w->files = v;
    w->capfiles = cap;
  }
  char *p = strdup(path);
  if (!p) return;
  w->files[w->nfiles].path = p;
  w->files[w->nfiles].size = size;
  w->nfiles++;
}

static bool visit_dir(walk *w, const struct stat *st) {
  for (size_t i = 0; i < w->ndirs; i++)
    if (w->dirs[i].dev == st->st_dev && w->dirs[i].ino == st->st_ino) return false;
  if (w->ndirs == w->capdirs) {
    size_t cap = w->capdirs ? w->capdirs * 2 : 16;
    void *v = realloc(w->dirs, cap * sizeof *w->dirs);
    if (!v) return false;
    w->dirs = v;
    w->capdirs = cap;
  }
  w->dirs[w->ndirs].dev = st->st_dev;
  w->dirs[w->ndirs].ino = st->st_ino;
  w->ndirs++;
  return true;
}

static void walk_dir(walk *w, const char *path, int depth) {
  if (w->too_many) return;
  if (depth > MF_MAX_DIR_DEPTH) {
    mf_errors_add(w->ld->errs, path, 0, 0, NULL,
                  "directories nested deeper than %d levels are not read", MF_MAX_DIR_DEPTH);
    return;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !visit_dir(w, &st)) return; /* entered before: a symlink loop */
  DIR *d = opendir(path);
  if (!d) {
    mf_errors_add(w->ld->errs, path, 0, 0, NULL, "cannot read directory: %s", strerror(errno));
    return;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strcmp(de->d_name, "node_modules") == 0) continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 32;
      char **v = realloc(names, ncap * sizeof *v);
      if (!v) break;
      names = v;
      cap = ncap;
    }
    if ((names[n] = strdup(de->d_name)) != NULL) n++;
    if (n > (size_t)MF_MAX_FILES * 4) break; /* an absurd directory: stop listing */
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    char full[PATH_MAX];
    int len = snprintf(full, sizeof full, "%s/%s", path, names[i]);
    if (len < 0 || (size_t)len >= sizeof full) {
      if (is_candidate(names[i]))
        mf_errors_add(w->ld->errs, path, 0, 0, NULL, "path of %s is too long", names[i]);
      continue;
    }
    struct stat fst;
    if (stat(full, &fst) != 0) {
      if (is_candidate(names[i]))
        mf_errors_add(w->ld->errs, full, 0, 0, NULL, "cannot read: %s", strerror(errno));
      continue;
    }
    if (S_ISDIR(fst.st_mode)) walk_dir(w, full, depth + 1);
    else if (S_ISREG(fst.st_mode) && is_candidate(names[i])) add_file(w, full, (long long)fst.st_size);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* ---- reading one manifest ---- */

static mf_pending *new_pending(mf_loader *ld) {
  if (ld->npend == ld->cappend) {
    size_t cap = ld->cappend ? ld->cappend * 2 : 64;
    mf_pending *v = realloc(ld->pend, cap * sizeof *v);
    if (!v) return NULL;
    ld->pend = v;
    ld->cappend = cap;
  }
  mf_pending *p = &ld->pend[ld->npend++];
  memset(p, 0, sizeof *p);
  return p;
}

static bool keep_doc(mf_app_priv *pv, yaml_doc *doc) {
  if (pv->ndocs == pv->capdocs) {
    size_t cap = pv->capdocs ? pv->capdocs * 2 : 8;
    yaml_doc **v = realloc(pv->docs, cap * sizeof *v);
    if (!v) return false;
    pv->docs = v;
    pv->capdocs = cap;
  }
  pv->docs[pv->ndocs++] = doc;
  return true;
}

static void load_entry(mf_ctx *c, const json_t *entries, size_t i, const json_t *obj) {
  mf_loader *ld = c->ld;
  yaml_pos pos = yaml_pos_index(c->doc, entries, i);
  c->entry = NULL;
  if (!json_is_object(obj)) {
    mf_err(c, pos, "entries[%zu]: an entry must be a mapping, got %s", i, mf_type_name(obj));
    return;
  }
  const json_t *name = json_object_get(obj, "name");
  const json_t *kind = json_object_get(obj, "kind");
  const char *why;
  if (!name) {
    mf_err(c, pos, "entries[%zu]: missing required field \"name\"", i);
    return;
  }
  if (!json_is_string(name)) {
    mf_err(c, yaml_pos_value(c->doc, obj, "name"), "entries[%zu]: name must be a string, got %s",
           i, mf_type_name(name));
    return;
  }
  if ((why = check_ident(json_string_value(name))) != NULL) {
    mf_err(c, yaml_pos_value(c->doc, obj, "name"), "entries[%zu]: name \"%.80s\" %s", i,
           json_string_value(name), why);
    return;
  }
  char *id = mf_printf(ld->ar, "%s:%s", c->ns, json_string_value(name));
  if (!id) return;
  c->entry = id;
  if (!kind) {
    mf_err(c, pos, "missing required field \"kind\"");
    return;
  }
  if (!json_is_string(kind)) {
    mf_err(c, yaml_pos_value(c->doc, obj, "kind"), "kind must be a string, got %s",
           mf_type_name(kind));
    return;
  }
  int k = kind_from_name(json_string_value(kind));
  if (k < 0) {
    mf_err(c, yaml_pos_value(c->doc, obj, "kind"),
           "unknown kind \"%.80s\" (known: process.lua, function.lua, library.lua, process.host, "
           "process.service, security.policy)",
           json_string_value(kind));
    return;
  }
  if (ld->npend >= MF_MAX_ENTRIES) {
    if (!ld->gave_up)
      mf_err(c, pos, "more than %d entries in the app; the rest are not read", MF_MAX_ENTRIES);
    ld->gave_up = true;
    return;
  }
  mf_entry *e = mf_alloc(ld->ar, sizeof *e);
  mf_pending *p = e ? new_pending(ld) : NULL;
  if (!p) {
    mf_err(c, pos, "out of memory");
    ld->gave_up = true;
    return;
  }
  p->e = e;
  e->id = id;
  e->ns = c->ns;
  e->name = id + strlen(c->ns) + 1;
  e->kind = (mf_kind)k;
  e->file = c->file;
  e->line = pos.line;
  e->col = pos.col;
  e->raw = obj;
  e->doc = c->doc;
  mf_parse_entry(c, e, p);
}

static void load_file(mf_loader *ld, const char *path, long long size) {
  if (ld->gave_up) return;
  if (size > 0 && (size_t)size > MF_MAX_MANIFEST_BYTES - ld->manifest_bytes) {
    mf_errors_add(ld->errs, path, 0, 0, NULL,
                  "the app's manifests exceed %zu bytes together; this and later files are not "
                  "read", MF_MAX_MANIFEST_BYTES);
    ld->gave_up = true;
    return;
  }
  ld->manifest_bytes += size > 0 ? (size_t)size : 0;
  yaml_error yerr;
  yaml_doc *doc = yaml_load_file(path, NULL, &yerr);
  if (!doc) {
    mf_errors_add(ld->errs, path, yerr.line, yerr.col, NULL, "%s", yerr.msg);
    return;
  }
  const json_t *root = yaml_root(doc);
  const json_t *ns = json_is_object(root) ? json_object_get(root, "namespace") : NULL;
  const json_t *entries = json_is_object(root) ? json_object_get(root, "entries") : NULL;
  if (!ns && !entries) { /* not a manifest: some other YAML or JSON file of the app */
    yaml_free(doc);
    return;
  }
  if (!keep_doc(ld->app->priv, doc)) {
    yaml_free(doc);
    mf_errors_add(ld->errs, path, 0, 0, NULL, "out of memory");
    ld->gave_up = true;
    return;
  }
  mf_ctx c = {ld, mf_strdup(ld->ar, path), doc, NULL, NULL};
  if (!c.file) return;
  if (!ns || !entries) {
    const char *has = ns ? "namespace" : "entries";
    mf_err(&c, yaml_pos_key(doc, root, has),
           "the file has \"%s\" but no \"%s\": a manifest needs both (nothing in it is loaded)",
           has, ns ? "entries" : "namespace");
    return;
  }
  mf_parse_toplevel(&c, root);
  const char *why = NULL;
  if (!json_is_string(ns)) {
    mf_err(&c, yaml_pos_value(doc, root, "namespace"), "namespace must be a string, got %s",
           mf_type_name(ns));
    return;
  }
  if ((why = check_ident(json_string_value(ns))) != NULL) {
    mf_err(&c, yaml_pos_value(doc, root, "namespace"), "namespace \"%.80s\" %s",
           json_string_value(ns), why);
    return;
  }
  c.ns = json_string_value(ns);
  if (!json_is_array(entries)) {
    mf_err(&c, yaml_pos_value(doc, root, "entries"), "entries must be a sequence, got %s",
           mf_type_name(entries));
    return;
  }
  for (size_t i = 0; i < json_array_size(entries) && !ld->gave_up; i++)
    load_entry(&c, entries, i, json_array_get(entries, i));
}

/* ---- the index ---- */

static int cmp_pending_id(const void *pa, const void *pb) {
  const mf_pending *const *a = pa, *const *b = pb;
  int c = strcmp((*a)->e->id, (*b)->e->id);
  if (c) return c;
  return *a < *b ? -1 : *a > *b; /* load order: pend is one array */
}

static bool build_index(mf_loader *ld) {
  mf_app_priv *pv = ld->app->priv;
  if (!ld->npend) return true;
  mf_pending **order = malloc(ld->npend * sizeof *order);
  pv->index = mf_alloc(ld->ar, ld->npend * sizeof *pv->index);
  if (!order || !pv->index) {
    free(order);
    return false;
  }
  for (size_t i = 0; i < ld->npend; i++) order[i] = &ld->pend[i];
  qsort(order, ld->npend, sizeof *order, cmp_pending_id);
  const mf_pending *first = NULL;
  for (size_t i = 0; i < ld->npend; i++) {
    mf_pending *p = order[i];
    if (first && strcmp(first->e->id, p->e->id) == 0) {
      p->dup = true;
      mf_ctx c = {ld, p->e->file, p->e->doc, p->e->id, p->e->ns};
      mf_err(&c, yaml_pos_value(p->e->doc, p->e->raw, "name"),
             "duplicate entry id (first defined at %s:%d:%d)", first->e->file, first->e->line,
             first->e->col);
      continue;
    }
    first = p;
    pv->index[pv->nindex++] = p->e;
  }
  free(order);
  return true;
}

static int cmp_id_entry(const void *key, const void *elem) {
  return strcmp((const char *)key, (*(const mf_entry *const *)elem)->id);
}

const mf_entry *mf_find(const mf_app *app, const char *id) {
  if (!app || !id || !app->priv || !app->priv->nindex) return NULL;
  const mf_entry *const *r =
      bsearch(id, app->priv->index, app->priv->nindex, sizeof *app->priv->index, cmp_id_entry);
  return r ? *r : NULL;
}

static int cmp_id_group(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const mf_group *)elem)->id);
}

const mf_group *mf_find_group(const mf_app *app, const char *id) {
  if (!app || !id || !app->ngroups) return NULL;
  return bsearch(id, app->groups, app->ngroups, sizeof *app->groups, cmp_id_group);
}

/* ---- load / free ---- */

void mf_free(mf_app *app) {
  if (!app) return;
  mf_app_priv *pv = app->priv;
  if (pv) {
    for (size_t i = 0; i < pv->ndocs; i++) yaml_free(pv->docs[i]);
    free(pv->docs);
    mf_arena arena = pv->arena; /* pv and app live in the arena */
    mf_arena_free(&arena);
  }
}

static char *clean_dir(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, dir, n);
  s[n] = '\0';
  return s;
}

mf_app *mf_load(const char *app_dir, mf_errors *errs) {
  size_t before = mf_errors_count(errs);
  if (!app_dir || !*app_dir) app_dir = ".";
  mf_arena arena = {0};
  mf_app_priv *pv = mf_alloc(&arena, sizeof *pv);
  mf_app *app = pv ? mf_alloc(&arena, sizeof *app) : NULL;
  char *dir = clean_dir(app_dir);
  if (!app || !dir) {
    free(dir);
    mf_arena_free(&arena);
    mf_errors_add(errs, app_dir, 0, 0, NULL, "out of memory");
    return NULL;
  }
  app->priv = pv;
  app->strict = true;
  app->shutdown_timeout_ns = INT64_C(10000000000);

  mf_loader ld = {0};
  ld.app = app;
  ld.errs = errs;
  ld.ar = &pv->arena;
  pv->arena = arena; /* from here on the arena is reached through pv */
  app->dir = mf_strdup(ld.ar, dir);

  walk w = {0};
  w.ld = &ld;
  struct stat st;
  if (stat(dir, &st) != 0) {
    mf_errors_add(errs, dir, 0, 0, NULL, "cannot open the app: %s", strerror(errno));
  } else if (S_ISREG(st.st_mode)) { /* a single manifest file is an app of its own */
    add_file(&w, dir, (long long)st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    walk_dir(&w, dir, 0);
  } else {
    mf_errors_add(errs, dir, 0, 0, NULL, "the app must be a directory or a manifest file");
  }
  for (size_t i = 0; i < w.nfiles; i++) {
    load_file(&ld, w.files[i].path, w.files[i].size);
    free(w.files[i].path);
  }
  free(w.files);
  free(w.dirs);

  if (pv->ndocs == 0 && mf_errors_count(errs) == before)
    mf_errors_add(errs, dir, 0, 0, NULL,
                  "no manifest found (a .yaml, .yml or .json file with \"namespace\" and "
                  "\"entries\")");
  free(dir);

  if (!build_index(&ld)) mf_errors_add(errs, app->dir, 0, 0, NULL, "out of memory");
  /* entries in load order, duplicates left out */
  const mf_entry **entries = ld.npend ? mf_alloc(ld.ar, ld.npend * sizeof *entries) : NULL;
  for (size_t i = 0; entries && i < ld.npend; i++)
    if (!ld.pend[i].dup) entries[app->nentries++] = ld.pend[i].e;
  app->entries = entries;

  mf_resolve(&ld);
  mf_graph(&ld);

  if (ld.L) lua_close(ld.L);
  free(ld.pend);
  if (mf_errors_count(errs) != before) {
    mf_free(app);
    return NULL;
  }
  return app;
}
