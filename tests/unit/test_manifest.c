/* tests/unit/test_manifest.c — core/manifest: the good fixture app (reference layout) loads
 * into the expected model; the broken fixture reports every kind of problem, each at its line
 * and column, in one run; the directory walk, app-wide settings, byte sizes, hostile shapes,
 * and `wisp check`. Fixtures live in tests/apps/; other apps are written to temp dirs. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/duration.h"
#include "core/manifest.h"
#include "tests/unit/t.h"

static char root_dir[PATH_MAX]; /* the project root, from this file's path */

static void find_root(void) {
  snprintf(root_dir, sizeof root_dir, "%s", __FILE__);
  char *p = strstr(root_dir, "/tests/unit/test_manifest.c");
  if (p) *p = '\0';
  else snprintf(root_dir, sizeof root_dir, ".");
}

static const char *fixture(const char *name) {
  static char buf[PATH_MAX + 64];
  if (snprintf(buf, sizeof buf, "%s/tests/apps/%s", root_dir, name) >= (int)sizeof buf) abort();
  return buf;
}

/* ---- temp apps ---- */

static char tmp_root[PATH_MAX];

static void mkdirs(const char *path) {
  char buf[PATH_MAX + 128];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(buf, 0700);
    *p = '/';
  }
  mkdir(buf, 0700);
}

static void write_file(const char *dir, const char *rel, const char *text) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  mkdirs(path);
  *slash = '/';
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static const char *new_app(const char *name) {
  static char buf[PATH_MAX + 64];
  if (snprintf(buf, sizeof buf, "%s/%s", tmp_root, name) >= (int)sizeof buf) abort();
  mkdirs(buf);
  return buf;
}

/* Loads dir expecting failure; returns the sorted errors (caller frees). */
static mf_errors load_fail(const char *dir) {
  mf_errors errs;
  mf_errors_init(&errs);
  mf_app *app = mf_load(dir, &errs);
  CHECK(app == NULL);
  mf_free(app);
  mf_errors_sort(&errs);
  return errs;
}

static mf_app *load_ok(const char *dir) {
  mf_errors errs;
  mf_errors_init(&errs);
  mf_app *app = mf_load(dir, &errs);
  CHECK(app != NULL);
  if (!app) mf_errors_print(&errs, stderr);
  mf_errors_free(&errs);
  return app;
}

static bool has_error(const mf_errors *e, const char *file_suffix, int line, int col,
                      const char *needle) {
  for (size_t i = 0; i < e->n; i++) {
    const mf_error *x = &e->v[i];
    size_t fl = strlen(x->file), sl = strlen(file_suffix);
    if (fl >= sl && strcmp(x->file + fl - sl, file_suffix) == 0 && x->line == line &&
        x->col == col && strstr(x->msg, needle))
      return true;
  }
  fprintf(stderr, "missing error %s:%d:%d: ...%s...\n", file_suffix, line, col, needle);
  mf_errors_print((mf_errors *)e, stderr);
  return false;
}

/* ---- the good app ---- */

static void test_good_app(void) {
  mf_app *app = load_ok(fixture("good"));
  if (!app) return;
  CHECK_EQ(app->nentries, 9);
  CHECK(app->strict);
  CHECK(app->shutdown_timeout_ns == 15 * DUR_SECOND);

  /* entries in load order: files sorted by path (src/_index.yaml, src/lib/, src/security/) */
  CHECK_STR(app->entries[0]->id, "app:processes");
  CHECK_STR(app->entries[5]->id, "app.lib:protocol");
  CHECK_STR(app->entries[8]->id, "app.security:deny_admin");

  const mf_entry *host = mf_find(app, "app:processes");
  CHECK(host && host->kind == MF_PROCESS_HOST);
  if (host) {
    CHECK_EQ(host->host.workers, 2);
    CHECK(host->host.memory_limit == (uint64_t)64 << 20);
    CHECK_EQ(host->host.max_processes, 1000);
    CHECK(host->host.auto_start);
    CHECK_STR(host->ns, "app");
    CHECK_STR(host->name, "processes");
    CHECK_EQ(host->line, 11);
    CHECK_EQ(host->col, 5);
  }

  const mf_entry *pp = mf_find(app, "app:ponger_process");
  const mf_entry *lib = mf_find(app, "app.lib:protocol");
  CHECK(pp && pp->kind == MF_PROCESS_LUA);
  CHECK(lib && lib->kind == MF_LIBRARY_LUA);
  if (pp) {
    CHECK_STR(pp->method, "main");
    CHECK(strstr(pp->source, "process.registry.register") != NULL);
    CHECK_EQ(pp->source_len, strlen(pp->source));
    CHECK(strstr(pp->source_path, "tests/apps/good/src/ponger.lua") != NULL);
    CHECK_EQ(pp->nmodules, 1);
    CHECK_STR(pp->modules[0], "logger");
    CHECK(pp->modules[1] == NULL);
    CHECK_EQ(pp->nimports, 1);
    CHECK_STR(pp->imports[0].alias, "proto");
    CHECK(pp->imports[0].target == lib);
    CHECK_STR(json_string_value(json_object_get(pp->meta, "comment")), "Replies to pings");
    /* the raw entry and its positions stay available */
    yaml_pos p = yaml_pos_value(pp->doc, pp->raw, "source");
    CHECK_EQ(p.line, 25);
    CHECK_EQ(p.col, 13);
    CHECK(strstr(pp->file, "good/src/_index.yaml") != NULL);
  }
  if (lib) {
    CHECK(lib->method == NULL);
    CHECK(lib->modules != NULL && lib->modules[0] == NULL);
    CHECK_EQ(lib->nmodules, 0);
    CHECK(!lib->is_test);
  }
  const mf_entry *test = mf_find(app, "app.lib:protocol_test");
  CHECK(test && test->kind == MF_FUNCTION_LUA && test->is_test);
  if (test) CHECK(test->nimports == 1 && test->imports[0].target == lib); /* bare name */

  const mf_entry *ponger = mf_find(app, "app:ponger");
  const mf_entry *pinger = mf_find(app, "app:pinger");
  CHECK(ponger && pinger);
  if (ponger && pinger) {
    CHECK(ponger->process == pp);
    CHECK(ponger->svc_host == host);
    CHECK(ponger->input == NULL);
    const mf_lifecycle *lc = &ponger->lifecycle;
    CHECK(lc->auto_start);
    CHECK(lc->restart.initial_delay_ns == 500 * DUR_MILLISECOND);
    CHECK(lc->restart.max_delay_ns == 30 * DUR_SECOND);
    CHECK(lc->restart.backoff_factor == 1.5);
    CHECK(lc->restart.jitter == 0.2);
    CHECK_EQ(lc->restart.max_attempts, 10);
    CHECK(lc->start_timeout_ns == 10 * DUR_SECOND);
    CHECK(lc->stop_timeout_ns == 10 * DUR_SECOND);
    CHECK(lc->stable_threshold_ns == 5 * DUR_SECOND);
    CHECK(lc->security.present);
    CHECK_STR(lc->security.actor_id, "service:ponger");
    CHECK_STR(json_string_value(json_object_get(lc->security.actor_meta, "role")), "worker");
    CHECK_EQ(lc->security.ngroups, 1);
    CHECK_STR(lc->security.groups[0], "app.security:workers");
    CHECK_EQ(lc->security.npolicies, 0);
    CHECK_EQ(lc->nrequires, 0);

    CHECK(pinger->process == mf_find(app, "app:pinger_process")); /* bare name resolved */
    CHECK(json_is_array(pinger->input) && json_array_size(pinger->input) == 2);
    CHECK_STR(json_string_value(json_array_get(pinger->input, 0)), "app.ponger");
    lc = &pinger->lifecycle;
    CHECK_EQ(lc->nrequires, 1);
    CHECK(lc->requires[0] == ponger);
    CHECK(lc->stop_timeout_ns == 5 * DUR_SECOND);
    CHECK(lc->restart.initial_delay_ns == DUR_SECOND); /* defaults */
    CHECK(lc->restart.max_delay_ns == 90 * DUR_SECOND);
    CHECK(lc->restart.backoff_factor == 2.0);
    CHECK(lc->restart.jitter == 0.1);
    CHECK_EQ(lc->restart.max_attempts, 0);
    CHECK_STR(lc->security.actor_id, "service:pinger");
    CHECK(lc->security.actor_meta == NULL);
    CHECK_EQ(lc->security.npolicies, 1);
    CHECK(lc->security.policies[0] == mf_find(app, "app.security:allow_messages"));
  }
  CHECK_EQ(app->nservices, 2);
  CHECK_EQ(app->nstart, 2);
  if (app->nstart == 2) {
    CHECK(app->start_order[0] == ponger); /* required before the service that requires it */
    CHECK(app->start_order[1] == pinger);
  }

  /* policies and groups (from the JSON manifest) */
  const mf_entry *allow = mf_find(app, "app.security:allow_messages");
  const mf_entry *deny = mf_find(app, "app.security:deny_admin");
  CHECK(allow && deny);
  if (allow && deny) {
    CHECK(json_is_object(allow->policy));
    CHECK_STR(json_string_value(json_object_get(deny->policy, "effect")), "deny");
    CHECK_EQ(deny->ngroups, 2);
    CHECK_STR(deny->groups[0], "app.security:workers");
    CHECK_STR(deny->groups[1], "app.security:auditors");
    yaml_pos p = yaml_pos_value(deny->doc, deny->policy, "effect");
    CHECK_EQ(p.line, 22);
    CHECK_EQ(p.col, 19);
  }
  CHECK_EQ(app->ngroups, 2);
  const mf_group *workers = mf_find_group(app, "app.security:workers");
  const mf_group *auditors = mf_find_group(app, "app.security:auditors");
  CHECK(workers && auditors);
  if (workers && auditors) {
    CHECK_EQ(workers->npolicies, 2);
    CHECK(workers->policies[0] == allow && workers->policies[1] == deny);
    CHECK_EQ(auditors->npolicies, 1);
  }
  CHECK(mf_find_group(app, "app.security:nobody") == NULL);
  CHECK(mf_find(app, "app:nothing") == NULL);
  CHECK(mf_find(app, "") == NULL);
  CHECK(mf_find(NULL, "app:pinger") == NULL);
  mf_free(app);
  mf_free(NULL);
}

/* ---- the broken app: every problem, each at its place, in one run ---- */

typedef struct expected {
  const char *file; /* suffix */
  int line, col;
  const char *entry; /* NULL: file level */
  const char *msg;   /* substring */
} expected;

static void test_broken_app(void) {
  static const expected want[] = {
      {"broken/_index.yaml", 5, 19, NULL, "shutdown_timeout: invalid duration \"soon\""},
      {"broken/_index.yaml", 11, 16, "bad:host", "host.workers: must be between 1 and 1024, got 0"},
      {"broken/_index.yaml", 12, 21, "bad:host", "host.memory_limit: unknown unit \"furlongs\""},
      {"broken/_index.yaml", 13, 22, "bad:host", "host.max_processes: must be at least 1, got 0"},
      {"broken/_index.yaml", 14, 7, "bad:host", "host: unknown field \"threads\""},
      {"broken/_index.yaml", 18, 13, "bad:worker", "missing.lua: No such file or directory"},
      {"broken/_index.yaml", 19, 13, "bad:worker", "method: expected a string, got an integer"},
      {"broken/_index.yaml", 20, 14, "bad:worker", "modules: expected a sequence of strings"},
      {"broken/_index.yaml", 22, 13, "bad:worker", "imports.util: unknown entry \"bad:nope\""},
      {"broken/_index.yaml", 26, 13, "bad:dir_source", "lib is not a regular file"},
      {"broken/_index.yaml", 27, 11, "bad:dir_source", "meta: expected a mapping, got a string"},
      {"broken/_index.yaml", 34, 11, "bad:mystery", "unknown kind \"process.magic\""},
      {"broken/_index.yaml", 38, 14, "bad:svc_a", "process: unknown entry \"bad:no_such_process\""},
      {"broken/_index.yaml", 39, 11, "bad:svc_a", "host: unknown entry \"bad:no_such_host\""},
      {"broken/_index.yaml", 41, 19, "bad:svc_a", "lifecycle.auto_start: expected true or false"},
      {"broken/_index.yaml", 44, 24, "bad:svc_a", "initial_delay: unknown unit \"x\" in duration \"5x\""},
      {"broken/_index.yaml", 45, 25, "bad:svc_a", "backoff_factor: must be between 1 and 1000, got 0.5"},
      {"broken/_index.yaml", 46, 17, "bad:svc_a", "jitter: must be between 0 and 1, got 1.5"},
      {"broken/_index.yaml", 47, 23, "bad:svc_a", "max_attempts: must be at least 0, got -1"},
      {"broken/_index.yaml", 48, 9, "bad:svc_a", "lifecycle.restart: unknown field \"delay\""},
      {"broken/_index.yaml", 50, 18, "bad:svc_a", "no security.policy declares the group \"bad:ghosts\""},
      {"broken/_index.yaml", 51, 20, "bad:svc_a", "policies: unknown entry \"bad:nothing\""},
      {"broken/_index.yaml", 57, 20, "bad:svc_b",
       "lifecycle.depends_on: dependency cycle: bad:svc_b -> bad:svc_a -> bad:svc_b"},
      {"broken/_index.yaml", 64, 15, "bad:rule", "policy.effect: must be \"allow\" or \"deny\", got \"permit\""},
      {"broken/_index.yaml", 67, 21, "bad:rule", "conditions[0].operator: unknown operator \"equals\""},
      {"broken/more/_index.yaml", 5, 11, "bad:worker", "duplicate entry id (first defined at "},
      {"broken/more/_index.yaml", 11, 14, "bad:svc_c",
       "process: \"bad:host\" is a process.host entry, expected a process.lua"},
      {"broken/more/_index.yaml", 13, 5, "bad:typo", "missing required field \"source\""},
      {"broken/more/_index.yaml", 15, 5, "bad:typo", "unknown field \"sorce\" for kind library.lua"},
      {"broken/more/_index.yaml", 25, 18, "bad:lib_b",
       "imports.a: import cycle: bad:lib_b -> bad:lib_a -> bad:lib_b"},
      {"broken/more/_index.yaml", 27, 5, NULL, "entries[5]: missing required field \"name\""},
      {"broken/oops.lua", 3, 0, "bad:syntax_error", "Lua syntax error: <name> or '...' expected near 'return'"},
      {"broken/syntax.yaml", 5, 1, NULL, "flow sequence without a closing bracket"},
  };
  const size_t nwant = sizeof want / sizeof want[0];
  mf_errors errs = load_fail(fixture("broken"));
  CHECK_EQ(errs.n, nwant);
  CHECK_EQ(errs.dropped, 0);
  for (size_t i = 0; i < nwant && i < errs.n; i++) {
    const mf_error *x = &errs.v[i];
    const expected *w = &want[i];
    size_t fl = strlen(x->file), sl = strlen(w->file);
    bool ok = fl >= sl && strcmp(x->file + fl - sl, w->file) == 0 && x->line == w->line &&
              x->col == w->col && strstr(x->msg, w->msg) != NULL &&
              ((!w->entry && !x->entry) || (w->entry && x->entry && strcmp(w->entry, x->entry) == 0));
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "problem %zu: got %s:%d:%d [%s] %s\n  want %s:%d:%d [%s] ...%s...\n", i,
              x->file, x->line, x->col, x->entry ? x->entry : "-", x->msg, w->file, w->line,
              w->col, w->entry ? w->entry : "-", w->msg);
  }
  if (errs.n != nwant) mf_errors_print(&errs, stderr);

  /* the printed form: one line per problem, sorted, entry ids named */
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  mf_errors_print(&errs, out);
  fclose(out);
  CHECK(strstr(buf, "/tests/apps/broken/_index.yaml:5:19: shutdown_timeout: invalid duration") != NULL);
  CHECK(strstr(buf, "/tests/apps/broken/_index.yaml:11:16: entry bad:host: host.workers:") != NULL);
  CHECK(strstr(buf, "/tests/apps/broken/oops.lua:3: entry bad:syntax_error: Lua syntax error") != NULL);
  size_t lines = 0;
  for (char *p = buf; *p; p++) lines += *p == '\n';
  CHECK_EQ(lines, nwant);
  free(buf);
  mf_errors_free(&errs);
}

static void test_check_command(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  int rc = mf_check_command(fixture("good"), out);
  fclose(out);
  CHECK_EQ(rc, 0);
  CHECK(strstr(buf, ": ok: 9 entries (2 process.lua, 1 function.lua, 1 library.lua, "
                    "1 process.host, 2 process.service, 2 security.policy), 1 test, "
                    "2 services to auto-start, security strict, shutdown_timeout 15s\n") != NULL);
  free(buf);

  buf = NULL;
  out = open_memstream(&buf, &len);
  rc = mf_check_command(fixture("broken"), out);
  fclose(out);
  CHECK_EQ(rc, 1);
  CHECK(len > 20 && strcmp(buf + len - 19, "\n33 problems found\n") == 0);
  free(buf);

  buf = NULL;
  out = open_memstream(&buf, &len);
  rc = mf_check_command("/nonexistent/app", out);
  fclose(out);
  CHECK_EQ(rc, 1);
  CHECK(strstr(buf, "/nonexistent/app: cannot open the app: No such file or directory\n"
                    "1 problem found\n") != NULL);
  free(buf);
}

/* ---- the walk ---- */

static const char *MINI = "namespace: app\n"
                          "entries:\n"
                          "  - name: lib\n"
                          "    kind: library.lua\n"
                          "    source: file://lib.lua\n";

static void test_walk(void) {
  const char *dir = new_app("walk");
  write_file(dir, "src/_index.yaml", MINI);
  write_file(dir, "src/lib.lua", "return {}\n");
  /* skipped: hidden directories and files, node_modules, non-manifest YAML and JSON */
  write_file(dir, ".git/config.yaml", "namespace: [broken\n");
  write_file(dir, "src/.hidden.yaml", "namespace: [broken\n");
  write_file(dir, "node_modules/pkg/_index.yaml", "namespace: [broken\n");
  write_file(dir, "package.json", "{\"name\": \"x\", \"version\": \"1.0.0\"}\n");
  write_file(dir, "config/settings.yml", "debug: true\nlevel: 3\n");
  write_file(dir, "notes.txt", "namespace: [not yaml at all\n");
  /* a symlink loop and a second path to the same directory: each directory is read once */
  char link[PATH_MAX + 128];
  snprintf(link, sizeof link, "%s/src/loop", dir);
  CHECK(symlink("..", link) == 0);
  snprintf(link, sizeof link, "%s/again", dir);
  CHECK(symlink("src", link) == 0);
  snprintf(link, sizeof link, "%s/dangling.yaml", dir);
  CHECK(symlink("nowhere.yaml", link) == 0);
  mf_errors errs = load_fail(dir);
  CHECK_EQ(errs.n, 1); /* only the dangling symlink that looks like a manifest */
  CHECK(has_error(&errs, "walk/dangling.yaml", 0, 0, "cannot read: No such file or directory"));
  mf_errors_free(&errs);
  unlink(link);
  mf_app *app = load_ok(dir);
  if (app) {
    CHECK_EQ(app->nentries, 1);
    CHECK(mf_find(app, "app:lib") != NULL);
  }
  mf_free(app);

  /* a trailing slash is fine; so is a single manifest file as the app */
  char path[PATH_MAX + 128];
  snprintf(path, sizeof path, "%s/src///", dir);
  app = load_ok(path);
  mf_free(app);
  snprintf(path, sizeof path, "%s/src/_index.yaml", dir);
  app = load_ok(path);
  if (app) CHECK(strstr(mf_find(app, "app:lib")->source_path, "walk/src/lib.lua") != NULL);
  mf_free(app);

  /* nothing to load */
  const char *empty = new_app("empty");
  write_file(empty, "readme.yaml", "title: nothing here\n");
  errs = load_fail(empty);
  CHECK_EQ(errs.n, 1);
  CHECK(has_error(&errs, "empty", 0, 0, "no manifest found"));
  mf_errors_free(&errs);

  /* half a manifest */
  const char *half = new_app("half");
  write_file(half, "a.yaml", "version: \"1.0\"\nnamespace: app\nentires: []\n");
  errs = load_fail(half);
  CHECK_EQ(errs.n, 1);
  CHECK(has_error(&errs, "half/a.yaml", 2, 1, "has \"namespace\" but no \"entries\""));
  mf_errors_free(&errs);
}

/* ---- app-wide settings, kinds, defaults ---- */

static void test_settings(void) {
  const char *dir = new_app("settings");
  write_file(dir, "a.yaml",
             "namespace: a\nsecurity:\n  strict: false\nshutdown_timeout: 2s\nentries: []\n");
  write_file(dir, "b.yaml", "namespace: b\nsecurity: {strict: false}\nentries: []\n");
  mf_app *app = load_ok(dir);
  if (app) {
    CHECK(!app->strict);
    CHECK(app->shutdown_timeout_ns == 2 * DUR_SECOND);
    CHECK_EQ(app->nentries, 0);
    CHECK_EQ(app->nstart, 0);
  }
  mf_free(app);

  write_file(dir, "c.yaml",
             "version: 2\nnamespace: c\nsecurity: {strict: true, mode: x}\nshutdown_timeout: 3s\n"
             "extra: 1\nentries: {}\n");
  mf_errors errs = load_fail(dir);
  CHECK(has_error(&errs, "settings/c.yaml", 1, 10, "unsupported manifest version"));
  CHECK(has_error(&errs, "settings/c.yaml", 3, 26, "security: unknown field \"mode\""));
  CHECK(has_error(&errs, "settings/c.yaml", 3, 20, "security.strict: set to true here but to false at"));
  CHECK(has_error(&errs, "settings/c.yaml", 4, 19, "shutdown_timeout: set to 3s here but to 2s at"));
  CHECK(has_error(&errs, "settings/c.yaml", 5, 1, "manifest: unknown field \"extra\""));
  CHECK(has_error(&errs, "settings/c.yaml", 6, 10, "entries must be a sequence, got a mapping"));
  CHECK_EQ(errs.n, 6);
  mf_errors_free(&errs);

  /* defaults of a minimal service; requires pulls a service that does not auto-start */
  const char *d2 = new_app("defaults");
  write_file(d2, "p.lua", "return { main = function() end }\n");
  write_file(d2, "_index.yaml",
             "namespace: x\n"
             "entries:\n"
             "  - {name: p, kind: process.lua, source: file://p.lua}\n"
             "  - {name: db, kind: process.service, process: p}\n"
             "  - {name: web, kind: process.service, process: p,\n"
             "     lifecycle: {auto_start: true, requires: [db, x:db], depends_on: [db]}}\n"
             "  - {name: idle, kind: process.service, process: p}\n");
  app = load_ok(d2);
  if (app) {
    const mf_entry *db = mf_find(app, "x:db"), *web = mf_find(app, "x:web");
    CHECK(db && web);
    if (db && web) {
      CHECK(!db->lifecycle.auto_start);
      CHECK(db->svc_host == NULL);
      CHECK(db->lifecycle.restart.initial_delay_ns == DUR_SECOND);
      CHECK(!db->lifecycle.security.present);
      CHECK_EQ(db->lifecycle.security.ngroups, 0);
      CHECK_EQ(web->lifecycle.nrequires, 1); /* deduplicated */
      CHECK_EQ(app->nservices, 3);
      CHECK_EQ(app->nstart, 2);
      CHECK(app->start_order[0] == db && app->start_order[1] == web);
      CHECK(mf_find(app, "x:p")->method == NULL);
    }
  }
  mf_free(app);
}

static void test_field_errors(void) {
  const char *dir = new_app("fields");
  write_file(dir, "p.lua", "return { main = function() end }\n");
  write_file(dir, "_index.yaml",
             "namespace: f\n"                                            /* 1 */
             "entries:\n"                                                /* 2 */
             "  - {name: p, kind: process.lua, source: file://p.lua}\n"  /* 3 */
             "  - name: s\n"                                             /* 4 */
             "    kind: process.service\n"                               /* 5 */
             "    process: p\n"                                          /* 6 */
             "    input: hello\n"                                        /* 7 */
             "    lifecycle:\n"                                          /* 8 */
             "      stop_timeout: 0s\n"                                  /* 9 */
             "      stable_threshold: 5\n"                               /* 10 */
             "      requires: [s]\n"                                     /* 11 */
             "      restart: {initial_delay: 10s, max_delay: 1s}\n"     /* 12 */
             "      security: {}\n"                                      /* 13 */
             "  - name: s2\n"                                            /* 14 */
             "    kind: process.service\n"                               /* 15 */
             "    process: f:p\n"                                        /* 16 */
             "    lifecycle:\n"                                          /* 17 */
             "      security:\n"                                         /* 18 */
             "        actor: {meta: {a: 1}, name: x}\n"                  /* 19 */
             "  - name: pol\n"                                           /* 20 */
             "    kind: security.policy\n"                               /* 21 */
             "    groups: [ok, 'bad name', 'x:']\n"                      /* 22 */
             "    policy:\n"                                             /* 23 */
             "      actions: []\n"                                       /* 24 */
             "      effect: allow\n"                                     /* 25 */
             "      conditions:\n"                                       /* 26 */
             "        - {field: actor.name, operator: eq, value: 1}\n"   /* 27 */
             "        - {field: meta.x, operator: in, value: 3}\n"       /* 28 */
             "        - {field: meta.x, operator: matches, value: '(('}\n" /* 29 */
             "        - {field: meta.x, operator: eq}\n"                 /* 30 */
             "        - {field: meta.x, operator: eq, value: 1, value_from: meta.y}\n" /* 31 */
             "        - {field: meta..x, operator: exists}\n"            /* 32 */
             "        - {field: resource, operator: matches, value_from: meta.re}\n" /* 33 */
             "        - just a string\n"                                 /* 34 */
             "  - name: h\n"                                             /* 35 */
             "    kind: process.host\n"                                  /* 36 */
             "    host: {memory_limit: 64M, workers: 2.5, queue_size: 0}\n" /* 37 */
             "    lifecycle: {auto_start: on, restart: {}}\n"            /* 38 */
             "  - name: h2\n"                                            /* 39 */
             "    kind: process.host\n"                                  /* 40 */
             "    host: {memory_limit: 1000}\n"                          /* 41 */
             "  - {name: 'a b', kind: process.lua}\n"                    /* 42 */
             "  - {name: c, kind: 7}\n"                                  /* 43 */
             "  - 12\n");                                                /* 44 */
  mf_errors errs = load_fail(dir);
  CHECK(has_error(&errs, "fields/_index.yaml", 7, 12, "input: expected a sequence"));
  CHECK(has_error(&errs, "fields/_index.yaml", 9, 21, "stop_timeout: must be greater than zero"));
  CHECK(has_error(&errs, "fields/_index.yaml", 10, 25, "stable_threshold: expected a duration string"));
  CHECK(has_error(&errs, "fields/_index.yaml", 11, 18, "dependency cycle: f:s -> f:s"));
  CHECK(has_error(&errs, "fields/_index.yaml", 12, 48, "max_delay: 1s is less than initial_delay 10s"));
  CHECK(has_error(&errs, "fields/_index.yaml", 13, 17, "lifecycle.security: empty block"));
  CHECK(has_error(&errs, "fields/_index.yaml", 19, 31, "actor: unknown field \"name\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 19, 16, "actor: missing required field \"id\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 22, 18, "groups[1]: \"bad name\" is not a group name"));
  CHECK(has_error(&errs, "fields/_index.yaml", 22, 30, "groups[2]: \"x:\" is not a group name"));
  CHECK(has_error(&errs, "fields/_index.yaml", 24, 16, "policy.actions: expected a pattern or a non-empty list"));
  CHECK(has_error(&errs, "fields/_index.yaml", 24, 7, "policy.resources: missing"));
  CHECK(has_error(&errs, "fields/_index.yaml", 27, 19, "conditions[0].field: unknown field \"actor.name\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 28, 48, "conditions[1].value: in needs a sequence"));
  CHECK(has_error(&errs, "fields/_index.yaml", 29, 53, "conditions[2].value: invalid regex"));
  CHECK(has_error(&errs, "fields/_index.yaml", 30, 11, "conditions[3]: operator eq needs value or value_from"));
  CHECK(has_error(&errs, "fields/_index.yaml", 31, 63, "conditions[4]: give value or value_from, not both"));
  CHECK(has_error(&errs, "fields/_index.yaml", 32, 19, "conditions[5].field: unknown field \"meta..x\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 33, 60, "matches takes a literal regex"));
  CHECK(has_error(&errs, "fields/_index.yaml", 34, 11, "conditions[7]: expected a mapping, got a string"));
  CHECK(has_error(&errs, "fields/_index.yaml", 37, 26, "ambiguous unit \"M\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 37, 40, "host.workers: expected an integer, got a number"));
  CHECK(has_error(&errs, "fields/_index.yaml", 37, 57, "host.queue_size: must be between 1 and"));
  CHECK(has_error(&errs, "fields/_index.yaml", 38, 29, "lifecycle.auto_start: expected true or false, got a string"));
  CHECK(has_error(&errs, "fields/_index.yaml", 38, 33, "lifecycle: unknown field \"restart\""));
  CHECK(has_error(&errs, "fields/_index.yaml", 41, 26, "must be 0 (the default) or between 1MiB and 1TiB"));
  CHECK(has_error(&errs, "fields/_index.yaml", 42, 12, "name \"a b\" may only contain"));
  CHECK(has_error(&errs, "fields/_index.yaml", 43, 21, "kind must be a string, got an integer"));
  CHECK(has_error(&errs, "fields/_index.yaml", 44, 5, "entries[8]: an entry must be a mapping"));
  CHECK_EQ(errs.n, 29);
  if (errs.n != 29) mf_errors_print(&errs, stderr);
  mf_errors_free(&errs);
}

/* ---- byte sizes ---- */

static void test_bytes(void) {
  static const struct {
    const char *in;
    bool ok;
    uint64_t v;
  } cases[] = {
      {"0", true, 0},
      {"1048576", true, 1048576},
      {"64MiB", true, (uint64_t)64 << 20},
      {"64mib", true, (uint64_t)64 << 20},
      {"512MB", true, 512000000},
      {"1 GiB", true, (uint64_t)1 << 30},
      {"2gb", true, 2000000000},
      {"10KB", true, 10000},
      {"3KiB", true, 3072},
      {"7B", true, 7},
      {"1TiB", true, (uint64_t)1 << 40},
      {"64M", false, 0},
      {"1k", false, 0},
      {"", false, 0},
      {"MiB", false, 0},
      {"1.5GiB", false, 0},
      {"-1MiB", false, 0},
      {"64 furlongs", false, 0},
      {"99999999999999999999", false, 0},
      {"5000000TiB", false, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 12345;
    char err[200] = "";
    bool ok = mf_parse_bytes(cases[i].in, &v, err, sizeof err);
    CHECK(ok == cases[i].ok);
    if (ok != cases[i].ok) fprintf(stderr, "bytes case \"%s\": %s\n", cases[i].in, err);
    if (ok) CHECK(v == cases[i].v);
    else CHECK(err[0] != '\0' && v == 12345);
  }
  uint64_t v;
  CHECK(!mf_parse_bytes("x", &v, NULL, 0));
}

/* ---- hostile shapes ---- */

static void test_hostile(void) {
  /* a chain of 3000 services closed into one cycle: found without recursion */
  const char *dir = new_app("chain");
  size_t cap = 3000 * 120 + 256, o = 0;
  char *text = malloc(cap);
  o += (size_t)snprintf(text + o, cap - o, "namespace: c\nentries:\n"
                        "  - {name: p, kind: process.lua, source: file://p.lua}\n");
  for (int i = 0; i < 3000; i++)
    o += (size_t)snprintf(text + o, cap - o,
                          "  - {name: s%d, kind: process.service, process: p, "
                          "lifecycle: {auto_start: true, requires: [s%d]}}\n",
                          i, (i + 1) % 3000);
  write_file(dir, "_index.yaml", text);
  write_file(dir, "p.lua", "return {}\n");
  mf_errors errs = load_fail(dir);
  CHECK_EQ(errs.n, 1);
  if (errs.n == 1) {
    CHECK(strstr(errs.v[0].msg, "dependency cycle: c:s2999 -> c:s0 -> c:s1 -> c:s2 -> c:s3 -> "
                                "c:s4 -> ... (2990 more) -> c:s2995 -> c:s2996 -> c:s2997 -> "
                                "c:s2998 -> c:s2999") != NULL);
    CHECK_EQ(errs.v[0].line, 3003);
  }
  mf_errors_free(&errs);

  /* without the cycle the chain is a valid start order, deepest dependency first */
  o = 0;
  o += (size_t)snprintf(text + o, cap - o, "namespace: c\nentries:\n"
                        "  - {name: p, kind: process.lua, source: file://p.lua}\n");
  for (int i = 0; i < 3000; i++)
    o += (size_t)snprintf(text + o, cap - o,
                          "  - {name: s%d, kind: process.service, process: p, "
                          "lifecycle: {auto_start: true, requires: [s%d]}}\n",
                          i, i + 1 < 3000 ? i + 1 : 0);
  char *last = strstr(text, "requires: [s0]");
  if (last) memcpy(last, "requires: []  ", 14);
  write_file(dir, "_index.yaml", text);
  mf_app *app = load_ok(dir);
  if (app) {
    CHECK_EQ(app->nstart, 3000);
    CHECK_STR(app->start_order[0]->id, "c:s2999");
    CHECK_STR(app->start_order[2999]->id, "c:s0");
  }
  mf_free(app);
  free(text);

  /* many problems: the list is bounded, the rest counted */
  const char *many = new_app("many");
  cap = 2000 * 60 + 64;
  text = malloc(cap);
  o = (size_t)snprintf(text, cap, "namespace: m\nentries:\n");
  for (int i = 0; i < 2000; i++)
    o += (size_t)snprintf(text + o, cap - o, "  - {name: e%d, kind: nope}\n", i);
  write_file(many, "_index.yaml", text);
  free(text);
  errs = load_fail(many);
  CHECK_EQ(errs.n, MF_ERRORS_MAX);
  CHECK_EQ(errs.dropped, 2000 - MF_ERRORS_MAX);
  CHECK_EQ(mf_errors_count(&errs), 2000);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  mf_errors_print(&errs, out);
  fclose(out);
  CHECK(strstr(buf, "... and 1000 more problems\n") != NULL);
  free(buf);
  mf_errors_free(&errs);

  /* an alias bomb in a manifest is a YAML problem, not an out-of-memory */
  const char *bomb = new_app("bomb");
  write_file(bomb, "_index.yaml",
             "namespace: b\n"
             "x0: &a [1,1,1,1,1,1,1,1,1,1]\n"
             "x1: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
             "x2: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
             "x3: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
             "x4: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
             "x5: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
             "x6: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
             "entries: *g\n");
  errs = load_fail(bomb);
  CHECK_EQ(errs.n, 1);
  CHECK(has_error(&errs, "bomb/_index.yaml", 7, 30, "once aliases are expanded"));
  mf_errors_free(&errs);

  /* wrong shapes at the top */
  const char *shapes = new_app("shapes");
  write_file(shapes, "a.yaml", "namespace: 7\nentries: []\n");
  write_file(shapes, "b.yaml", "namespace: 'a:b'\nentries: []\n");
  write_file(shapes, "c.json", "[1, 2, 3]\n");
  write_file(shapes, "d.yml", "just text\n");
  errs = load_fail(shapes);
  CHECK(has_error(&errs, "shapes/a.yaml", 1, 12, "namespace must be a string, got an integer"));
  CHECK(has_error(&errs, "shapes/b.yaml", 1, 12, "namespace \"a:b\" may only contain"));
  CHECK_EQ(errs.n, 2);
  mf_errors_free(&errs);
}

static void setup(void) {
  find_root();
  snprintf(tmp_root, sizeof tmp_root, "/tmp/wisp-manifest-XXXXXX");
  if (!mkdtemp(tmp_root)) {
    perror("mkdtemp");
    exit(1);
  }
}

static void teardown(void) { nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

TEST_MAIN(setup, test_good_app, test_broken_app, test_check_command, test_walk, test_settings,
          test_field_errors, test_bytes, test_hostile, teardown)
