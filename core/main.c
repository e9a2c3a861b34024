/* core/main.c — the `wisp` command line: argument parsing, start-up and shutdown of the
 * threads, and the exit-code contract of SPEC.md ("The command line"). */
#include <errno.h>
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
#include "net/netloop.h"
#include "stdlib/stdlib.h"

#define MAX_SCRIPT_BYTES ((size_t)64 << 20)

typedef struct options {
  int workers;
  const char *log_format, *log_level, *admin;
} options;

static void usage(FILE *to) {
  fputs("usage: wisp [options] <command> [arguments]\n"
        "\n"
        "commands:\n"
        "  exec SCRIPT.lua [ARGS...]   run one script as an actor (operator scope)\n"
        "  --version                   print the version\n"
        "  --help                      print this help\n"
        "\n"
        "options:\n"
        "  --workers N                 worker threads (default: one per core)\n"
        "  --log-format json|text      log line format (default: text on a terminal, else json)\n"
        "  --log-level LEVEL           debug, info, warn or error (default: info)\n",
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
  const char *names[] = {"--workers", "--log-format", "--log-level", "--admin"};
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
    } else {
      o->admin = v;
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
} exit_wait;

static void on_script_exit(actor *a, void *ud) {
  exit_wait *w = ud;
  int code = 0;
  if (a->exit_kind != EXIT_NORMAL) {
    fprintf(stderr, "wisp: %s\n", a->exit_error ? a->exit_error : "the script failed");
    code = 1;
  } else if (a->exit_returned_failure) {
    fprintf(stderr, "wisp: %s returned an error: %s\n", a->entry_id, a->exit_error ? a->exit_error : "false");
    code = 1;
  }
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

static int cmd_exec(const options *o, int argc, char **argv) {
  if (argc < 1) return usage_error("%s", "exec needs a script: wisp exec SCRIPT.lua [ARGS...]");
  const char *path = argv[0];
  char err[512];
  size_t len;
  char *src = read_file(path, &len, err, sizeof err);
  if (!src) {
    fprintf(stderr, "wisp: %s\n", err);
    return 1;
  }
  len--; /* the NUL read_file added */
  stdlib_init();
  if (net_start() != 0) {
    fprintf(stderr, "wisp: cannot start the network thread\n");
    free(src);
    return 1;
  }
  if (sched_start(o->workers) != 0) {
    fprintf(stderr, "wisp: cannot start the worker threads\n");
    net_stop();
    free(src);
    return 1;
  }
  wbuf args = WBUF_INIT;
  encode_args(argc - 1, argv + 1, &args);
  char chunkname[4096], entry[4096];
  snprintf(chunkname, sizeof chunkname, "@%s", path);
  snprintf(entry, sizeof entry, "file://%s", path);
  exit_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
  char dirbuf[4096];
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  actor_config cfg = {.entry_id = entry, .chunk = src, .chunk_len = len, .chunk_name = chunkname,
                      .args = args.data, .args_len = args.len,
                      .on_exit = on_script_exit, .on_exit_ud = &w,
                      .exec_mode = true, .base_dir = dirname(dirbuf)};
  actor *a = actor_spawn(&cfg, err, sizeof err);
  free(src);
  wbuf_free(&args);
  int code;
  if (!a) {
    fprintf(stderr, "wisp: %s\n", err);
    code = 1;
  } else {
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    code = w.code;
    pthread_mutex_unlock(&w.mu);
    actor_release(a);
  }
  stop_all_actors();
  sched_stop();
  net_stop();
  return code;
}

int main(int argc, char **argv) {
  options o = {0};
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
    if (r == 0) break;
  }
  if (strcmp(cmd, "exec") == 0) return cmd_exec(&o, argc - i, argv + i);
  if (cmd[0] == '-') return usage_error("unknown option %s", cmd);
  return usage_error("unknown command \"%s\"", cmd);
}
