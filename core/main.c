/* core/main.c — the `wisp` command line: argument parsing, start-up and shutdown of the
 * threads, and the exit-code contract of SPEC.md ("The command line"). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libgen.h>
#include <time.h>
#include "actors/actor.h"
#include "actors/pidtab.h"
#include "actors/sched.h"
#include "core/buf.h"
#include "core/codec.h"
#include "net/admin.h"
#include "net/netloop.h"
#include <dirent.h>
#include "actors/app.h"
#include "core/log.h"
#include "core/manifest.h"
#include "core/scaffold.h"
#include "stdlib/stdlib.h"

#define MAX_SCRIPT_BYTES ((size_t)64 << 20)

typedef struct options {
  int workers;
  const char *log_format, *log_level, *admin, *log_level_file;
} options;

static void usage(FILE *to) {
  fputs("usage: wisp [options] <command> [arguments]\n"
        "\n"
        "commands:\n"
        "  run [APP_DIR]               run the app's services until SIGTERM/SIGINT\n"
        "  run APP_DIR -x NS:ENTRY [ARGS...]\n"
        "                              start the services, run one process, stop, exit 0/1\n"
        "  exec SCRIPT.lua [ARGS...]   run one script as an actor (operator scope)\n"
        "  check APP_DIR               validate an app's manifests, report every problem\n"
        "  test [APP_DIR|FILES...]     run test entries (meta.type: test) and tests/*.lua\n"
        "  init DIR                    create a new app (manifest, a service, a test)\n"
        "  --version                   print the version\n"
        "  --help                      print this help\n"
        "\n"
        "options:\n"
        "  --workers N                 worker threads (default: one per core)\n"
        "  --log-format json|text      log line format (default: text on a terminal, else json)\n"
        "  --log-level LEVEL           debug, info, warn or error (default: info)\n"
        "  --admin HOST:PORT           serve /healthz, /readyz, /metrics (wisp run; off by default)\n"
        "  --log-level-file FILE       read the log level from FILE, again on SIGHUP\n",
        to);
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "wisp: ");
  fprintf(stderr, fmt, arg);
  fputs("\n\n", stderr);
  usage(stderr);
  return 2;
}

/* Parses options at argv[*i]; returns 1 if one was consumed, 0 if not an option, -1 on error. */
static int parse_option(int argc, char **argv, int *i, options *o) {
  const char *a = argv[*i];
  if (strncmp(a, "--", 2) != 0) return 0;
  const char *names[] = {"--workers", "--log-format", "--log-level", "--admin", "--log-level-file"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    size_t n = strlen(names[k]);
    if (strncmp(a, names[k], n) != 0 || (a[n] != 0 && a[n] != '=')) continue;
    const char *v = a[n] == '=' ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!v) { usage_error("option %s needs a value", names[k]); return -1; }
    if (k == 0) {
      char *end;
      long w = strtol(v, &end, 10);
      if (*end || w < 1 || w > 256) { usage_error("--workers must be a number from 1 to 256, got \"%s\"", v); return -1; }
      o->workers = (int)w;
    } else if (k == 1) {
      if (strcmp(v, "json") && strcmp(v, "text")) { usage_error("--log-format must be json or text, got \"%s\"", v); return -1; }
      o->log_format = v;
    } else if (k == 2) {
      if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error")) {
        usage_error("--log-level must be debug, info, warn or error, got \"%s\"", v);
        return -1;
      }
      o->log_level = v;
    } else if (k == 3) {
      o->admin = v;
    } else {
      o->log_level_file = v;
    }
    return 1;
  }
  return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    snprintf(err, errlen, "%s is a directory, not a Lua script", path);
    return NULL;
  }
  wbuf b = WBUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n > MAX_SCRIPT_BYTES) {
      fclose(f);
      wbuf_free(&b);
      snprintf(err, errlen, "%s is larger than %zu MiB", path, MAX_SCRIPT_BYTES >> 20);
      return NULL;
    }
    wbuf_append(&b, chunk, n);
  }
  bool failed = ferror(f);
  fclose(f);
  if (failed) {
    wbuf_free(&b);
    snprintf(err, errlen, "cannot read %s", path);
    return NULL;
  }
  wbuf_putc(&b, 0);
  return wbuf_detach(&b, len) ;
}

/* ---- waiting for the script's actor ---- */

typedef struct exit_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  int code;
  char **msg; /* NULL: print errors to stderr; else the error is handed back */
} exit_wait;

static void on_script_exit(actor *a, void *ud) {
  exit_wait *w = ud;
  int code = 0;
  char text[8192];
  text[0] = 0;
  if (a->exit_kind != EXIT_NORMAL) {
    snprintf(text, sizeof text, "%s", a->exit_error ? a->exit_error : "the script failed");
    code = 1;
  } else if (a->exit_returned_failure) {
    snprintf(text, sizeof text, "%s returned an error: %s", a->entry_id, a->exit_error ? a->exit_error : "false");
    code = 1;
  }
  if (code && w->msg) *w->msg = strdup(text);
  else if (code) fprintf(stderr, "wisp: %s\n", text);
  pthread_mutex_lock(&w->mu);
  w->done = true;
  w->code = code;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void terminate_one(actor *a, void *ud) { actor_terminate(a); }

/* SPEC.md: actors the script spawned that still run when it ends are terminated. */
static void stop_all_actors(void) {
  for (int round = 0; round < 5000 && actor_count() > 0; round++) {
    if (round % 100 == 0) pidtab_foreach(terminate_one, NULL);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

static int encode_args(int argc, char **argv, wbuf *out) {
  lua_State *L = luaL_newstate();
  if (!L) return -1;
  for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
  char err[128];
  int r = wcodec_encode_n(L, 1, argc, out, err, sizeof err);
  lua_close(L);
  return r;
}

static int start_runtime(const options *o) {
  stdlib_init();
  actors_metrics_init();
  if (o->log_level) wlog_set_level(wlog_parse_level(o->log_level));
  if (o->log_format) wlog_set_format(wlog_parse_format(o->log_format));
  if (o->log_level_file) {
    wlog_set_level_file(o->log_level_file);
    char why[256];
    if (wlog_reload_level(why, sizeof why) < 0) {
      fprintf(stderr, "wisp: --log-level-file: %s\n", why);
      return -1;
    }
  }
  if (net_start() != 0) {
    fprintf(stderr, "wisp: cannot start the network thread\n");
    return -1;
  }
  if (sched_start(o->workers) != 0) {
    fprintf(stderr, "wisp: cannot start the worker threads\n");
    net_stop();
    return -1;
  }
  return 0;
}

static void stop_runtime(void) {
  stop_all_actors();
  sched_stop();
  net_stop();
}

/* Runs one script file as an actor (exec mode) and waits for it. quiet: errors are returned in
 * *msg instead of printed. Returns the exit code. */
static int run_file(const char *path, int argc, char **argv, char **msg) {
  char err[512];
  size_t len;
  char *src = read_file(path, &len, err, sizeof err);
  if (!src) {
    if (msg) *msg = strdup(err);
    else fprintf(stderr, "wisp: %s\n", err);
    return 1;
  }
  len--; /* the NUL read_file added */
  wbuf args = WBUF_INIT;
  encode_args(argc, argv, &args);
  char chunkname[4096], entry[4096], dirbuf[4096];
  snprintf(chunkname, sizeof chunkname, "@%s", path);
  snprintf(entry, sizeof entry, "file://%s", path);
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  exit_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, msg};
  actor_config cfg = {.entry_id = entry, .chunk = src, .chunk_len = len, .chunk_name = chunkname,
                      .args = args.data, .args_len = args.len,
                      .on_exit = on_script_exit, .on_exit_ud = &w,
                      .exec_mode = true, .base_dir = dirname(dirbuf)};
  actor *a = actor_spawn(&cfg, err, sizeof err);
  free(src);
  wbuf_free(&args);
  int code;
  if (!a) {
    if (msg) *msg = strdup(err);
    else fprintf(stderr, "wisp: %s\n", err);
    code = 1;
  } else {
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    code = w.code;
    pthread_mutex_unlock(&w.mu);
    actor_release(a);
  }
  return code;
}

static int cmd_exec(const options *o, int argc, char **argv) {
  if (argc < 1) return usage_error("%s", "exec needs a script: wisp exec SCRIPT.lua [ARGS...]");
  struct stat st;
  if (stat(argv[0], &st) != 0) {
    fprintf(stderr, "wisp: cannot open %s: %s\n", argv[0], strerror(errno));
    return 1;
  }
  if (start_runtime(o) != 0) return 1;
  int code = run_file(argv[0], argc - 1, argv + 1, NULL);
  stop_runtime();
  return code;
}

static mf_app *load_app(const char *dir) {
  mf_errors errs;
  mf_errors_init(&errs);
  mf_app *app = mf_load(dir, &errs);
  if (!app) {
    mf_errors_print(&errs, stderr);
    fprintf(stderr, "wisp: %s: %zu problem(s); nothing was started (wisp check %s lists them)\n", dir,
            mf_errors_count(&errs), dir);
  }
  mf_errors_free(&errs);
  return app;
}

static int cmd_check(const options *o, int argc, char **argv) {
  if (argc != 1 || !argv[0][0]) return usage_error("%s", "check needs one app directory: wisp check APP_DIR");
  return mf_check_command(argv[0], stdout);
}

static int cmd_run(const options *o, int argc, char **argv) {
  const char *dir = ".";
  int i = 0;
  if (i < argc && strcmp(argv[i], "-x") != 0) dir = argv[i++];
  app_run_opts ro = {0};
  if (i < argc) {
    if (strcmp(argv[i], "-x") != 0)
      return usage_error(argv[i][0] == '-' ? "unexpected \"%s\" after the app directory (options go before it: "
                                             "wisp [options] run APP_DIR [-x ns:entry args...])"
                                           : "unexpected argument \"%s\" (wisp run APP_DIR [-x ns:entry args...])",
                         argv[i]);
    if (i + 1 >= argc) return usage_error("%s", "-x needs an entry id: wisp run APP_DIR -x ns:entry [ARGS...]");
    ro.exec_id = argv[i + 1];
    ro.argc = argc - i - 2;
    ro.argv = argv + i + 2;
  }
  mf_app *app = load_app(dir);
  if (!app) return 1;
  if (ro.exec_id) {
    const mf_entry *x = mf_find(app, ro.exec_id);
    if (!x || (x->kind != MF_PROCESS_LUA && x->kind != MF_FUNCTION_LUA)) {
      fprintf(stderr, "wisp: -x %s: %s (nothing was started; wisp check %s lists the entries' problems)\n", ro.exec_id,
              x ? "is not a process.lua or function.lua entry" : "no such entry in the app", dir);
      mf_free(app);
      return 1;
    }
  }
  char err[512];
  int admin_fd = -1;
  if (o->admin && (admin_fd = admin_listen(o->admin, err, sizeof err)) < 0) {
    fprintf(stderr, "wisp: %s\n", err);
    mf_free(app);
    return 1;
  }
  app_block_signals(); /* before any thread starts: only the signal thread receives them */
  if (start_runtime(o) != 0) {
    mf_free(app);
    return 1;
  }
  if (app_attach(app, err, sizeof err) != 0) {
    fprintf(stderr, "wisp: %s\n", err);
    stop_runtime();
    mf_free(app);
    return 1;
  }
  if (admin_fd >= 0) admin_start(admin_fd);
  int code = app_run(app, &ro);
  stop_runtime();
  mf_free(app);
  return code;
}

static bool has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* wisp test: test entries of an app plus the .lua files in its tests directory, or the files given. */
static int cmd_test(const options *o, int argc, char **argv) {
  const char *dir = NULL;
  char **files = NULL;
  size_t nfiles = 0;
  struct stat st;
  if (argc == 0) dir = ".";
  else if (argc == 1 && stat(argv[0], &st) == 0 && S_ISDIR(st.st_mode)) dir = argv[0];
  if (dir) {
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/tests", dir);
    DIR *d = opendir(tdir);
    if (d) {
      struct dirent *de;
      while ((de = readdir(d)) != NULL)
        if (has_suffix(de->d_name, ".lua")) {
          files = realloc(files, sizeof *files * (nfiles + 1));
          char p[8192];
          snprintf(p, sizeof p, "%s/%s", tdir, de->d_name);
          files[nfiles++] = strdup(p);
        }
      closedir(d);
      qsort(files, nfiles, sizeof *files, cmp_str);
    }
  } else {
    for (int i = 0; i < argc; i++) {
      files = realloc(files, sizeof *files * (nfiles + 1));
      files[nfiles++] = strdup(argv[i]);
    }
  }
  mf_app *app = NULL;
  if (dir) {
    char probe[4096];
    bool has_manifest = false;
    DIR *d = opendir(dir);
    if (d) {
      struct dirent *de;
      while ((de = readdir(d)) != NULL)
        if (has_suffix(de->d_name, ".yaml") || has_suffix(de->d_name, ".yml") || has_suffix(de->d_name, ".json"))
          has_manifest = true;
      closedir(d);
    }
    (void)probe;
    if (has_manifest && !(app = load_app(dir))) return 1;
  }
  size_t napp_tests = 0;
  for (size_t k = 0; app && k < app->nentries; k++) napp_tests += app->entries[k]->is_test;
  if (napp_tests == 0 && nfiles == 0) {
    fprintf(stderr, "wisp: no tests found in %s (function.lua entries with meta.type: test, or .lua files in %s/tests)\n",
            dir ? dir : "the arguments", dir ? dir : ".");
    if (app) mf_free(app);
    free(files);
    return 1;
  }
  if (start_runtime(o) != 0) return 1;
  int failed = 0, passed = 0;
  if (app) {
    char err[512];
    if (app_attach(app, err, sizeof err) != 0) {
      fprintf(stderr, "wisp: %s\n", err);
      failed++;
    } else {
      /* app_test prints its own lines; count them through a temporary stream */
      char *buf = NULL;
      size_t blen = 0;
      FILE *mem = open_memstream(&buf, &blen);
      int f = app_test(app, mem);
      fclose(mem);
      int p = 0, ff = 0;
      char *last = strrchr(buf, '\n');
      if (last) *last = 0;
      last = strrchr(buf, '\n');
      sscanf(last ? last + 1 : buf, "%d passed, %d failed", &p, &ff);
      if (last) *last = 0; else buf[0] = 0;
      if (buf[0]) printf("%s\n", buf);
      passed += p;
      failed += f;
      free(buf);
    }
  }
  for (size_t i = 0; i < nfiles; i++) {
    char *msg = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int code = run_file(files[i], 0, NULL, &msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (code) {
      failed++;
      printf("FAIL %s (%.2fs): %s\n", files[i], secs, msg ? msg : "failed");
    } else {
      passed++;
      printf("ok   %s (%.2fs)\n", files[i], secs);
    }
    free(msg);
    free(files[i]);
  }
  free(files);
  printf("%d passed, %d failed\n", passed, failed);
  fflush(stdout);
  stop_runtime();
  if (app) mf_free(app);
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  options o = {0};
  signal(SIGPIPE, SIG_IGN); /* a closed stdout pipe is an error to report, not a way to die */
  json_object_seed(0);      /* before any thread: jansson's hash seed is process-wide */
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "version") == 0) {
      printf("wisp %s (Lua 5.4)\n", WISP_VERSION);
      return 0;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "help") == 0) {
      usage(stdout);
      return 0;
    }
    int r = parse_option(argc, argv, &i, &o);
    if (r < 0) return 2;
    if (r == 0) break;
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[i++];
  /* options may also follow the command, before its operands */
  for (; i < argc; i++) {
    int r = parse_option(argc, argv, &i, &o);
    if (r < 0) return 2;
    if (r == 0) {
      if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) return usage_error("unknown option %s", argv[i]);
      break;
    }
  }
  /* 4. --admin serves a running app only */
  if (o.admin && strcmp(cmd, "run") != 0) return usage_error("%s", "--admin only applies to wisp run");
  if (strcmp(cmd, "exec") == 0) return cmd_exec(&o, argc - i, argv + i);
  if (strcmp(cmd, "init") == 0) {
    if (argc - i != 1) return usage_error("%s", "init needs one directory: wisp init DIR");
    return scaffold_app(argv[i], stdout, stderr);
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(&o, argc - i, argv + i);
  if (strcmp(cmd, "check") == 0) return cmd_check(&o, argc - i, argv + i);
  if (strcmp(cmd, "test") == 0) return cmd_test(&o, argc - i, argv + i);
  if (cmd[0] == '-') return usage_error("unknown option %s", cmd);
  return usage_error("unknown command \"%s\"", cmd);
}
