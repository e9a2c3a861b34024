/* core/log.c — the process-wide log writer (see log.h). Its only shared state is the level,
 * format and fd (atomics) and the write lock; each line is built in a private buffer first. */
#include "core/utf8_scan.h"
#include "core/log.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "core/buf.h"

#define MAX_DEPTH 64 /* deeper field values are written as "..." */

static _Atomic int g_level = WLOG_INFO;
static _Atomic int g_format = -1; /* -1: not chosen yet */
static _Atomic int g_fd = STDOUT_FILENO;
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_json[] = {"debug", "info", "warn", "error"};
static const char *const level_text[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int wlog_parse_level(const char *s) {
  if (!s) return -1;
  for (int i = 0; i < 4; i++)
    if (strcasecmp(s, level_json[i]) == 0) return i;
  if (strcasecmp(s, "warning") == 0) return WLOG_WARN;
  return -1;
}

int wlog_parse_format(const char *s) {
  if (s && strcasecmp(s, "json") == 0) return WLOG_JSON;
  if (s && strcasecmp(s, "text") == 0) return WLOG_TEXT;
  return -1;
}

const char *wlog_level_name(int level) {
  return level >= WLOG_DEBUG && level <= WLOG_ERROR ? level_json[level] : "?";
}

void wlog_set_level(int level) {
  if (level < WLOG_DEBUG) level = WLOG_DEBUG;
  if (level > WLOG_ERROR) level = WLOG_ERROR;
  atomic_store_explicit(&g_level, level, memory_order_relaxed);
}

int wlog_level(void) { return atomic_load_explicit(&g_level, memory_order_relaxed); }

bool wlog_enabled(int level) {
  return level >= atomic_load_explicit(&g_level, memory_order_relaxed);
}

void wlog_set_format(int format) {
  atomic_store(&g_format, format == WLOG_TEXT ? WLOG_TEXT : WLOG_JSON);
}

int wlog_format(void) {
  int f = atomic_load(&g_format);
  if (f < 0) {
    int expect = -1;
    f = isatty(STDOUT_FILENO) ? WLOG_TEXT : WLOG_JSON;
    if (!atomic_compare_exchange_strong(&g_format, &expect, f)) f = expect;
  }
  return f;
}

void wlog_set_fd(int fd) { atomic_store(&g_fd, fd); }

/* ---- line building ---- */


/* Appends s escaped: JSON string escapes when quoted, otherwise (text messages) only control
 * characters escaped. Ill-formed UTF-8 becomes U+FFFD either way. */
static void put_escaped(wbuf *b, const char *s, size_t n, bool quoted) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)s;
  if (quoted) wbuf_putc(b, '"');
  size_t run = 0, i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c >= 0x20 && c < 0x7f && (!quoted || (c != '"' && c != '\\'))) {
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t l = utf8_scan_seq(p + i, n - i);
      if (l) {
        i += l;
        continue;
      }
    }
    wbuf_append(b, s + run, i - run);
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t el = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        if (c >= 0x80) { /* ill-formed byte */
          wbuf_append(b, "\xEF\xBF\xBD", 3);
          el = 0;
        } else {
          esc[1] = 'u';
          esc[2] = '0';
          esc[3] = '0';
          esc[4] = hex[c >> 4];
          esc[5] = hex[c & 15];
          el = 6;
        }
    }
    wbuf_append(b, esc, el);
    run = ++i;
  }
  wbuf_append(b, s + run, n - run);
  if (quoted) wbuf_putc(b, '"');
}

/* Shortest round-tripping text of a finite double, always with '.' or an exponent. */
static void put_real(wbuf *b, double d) {
  char buf[40];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) break;
  }
  bool real = false;
  for (int i = 0; i < n; i++) {
    if (buf[i] == ',') buf[i] = '.';
    if (buf[i] == '.' || buf[i] == 'e') real = true;
  }
  wbuf_append(b, buf, (size_t)n);
  if (!real) wbuf_append(b, ".0", 2);
}

static void put_json(wbuf *b, json_t *v, int depth) {
  if (depth >= MAX_DEPTH) {
    wbuf_append(b, "\"...\"", 5);
    return;
  }
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      wbuf_putc(b, '{');
      bool first = true;
      for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
        if (!first) wbuf_putc(b, ',');
        first = false;
        put_escaped(b, json_object_iter_key(it), json_object_iter_key_len(it), true);
        wbuf_putc(b, ':');
        put_json(b, json_object_iter_value(it), depth + 1);
      }
      wbuf_putc(b, '}');
      return;
    }
    case JSON_ARRAY: {
      wbuf_putc(b, '[');
      for (size_t i = 0, n = json_array_size(v); i < n; i++) {
        if (i) wbuf_putc(b, ',');
        put_json(b, json_array_get(v, i), depth + 1);
      }
      wbuf_putc(b, ']');
      return;
    }
    case JSON_STRING:
      put_escaped(b, json_string_value(v), json_string_length(v), true);
      return;
    case JSON_INTEGER:
      wbuf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      return;
    case JSON_REAL:
      put_real(b, json_real_value(v));
      return;
    case JSON_TRUE:
      wbuf_append(b, "true", 4);
      return;
    case JSON_FALSE:
      wbuf_append(b, "false", 5);
      return;
    default:
      wbuf_append(b, "null", 4);
      return;
  }
}

/* Text mode writes a string bare when it reads back unambiguously: non-empty printable ASCII
 * without space, quote, backslash or '='. Anything else is a JSON string. */
static bool is_bare(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') return false;
  }
  return true;
}

static void put_text_string(wbuf *b, const char *s, size_t n) {
  if (is_bare(s, n)) wbuf_append(b, s, n);
  else put_escaped(b, s, n, true);
}

static bool is_reserved(const char *k, size_t n) {
  return (n == 2 && memcmp(k, "ts", 2) == 0) || (n == 5 && memcmp(k, "level", 5) == 0) ||
         (n == 3 && memcmp(k, "msg", 3) == 0);
}

static void put_key(wbuf *b, const char *k, size_t n, bool text) {
  wbuf renamed = WBUF_INIT;
  if (is_reserved(k, n)) {
    wbuf_append(&renamed, "fields.", 7);
    wbuf_append(&renamed, k, n);
    k = renamed.data;
    n = renamed.len;
  }
  if (text) put_text_string(b, k, n);
  else put_escaped(b, k, n, true);
  wbuf_free(&renamed);
}

static void put_ts(wbuf *b) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  wbuf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

static void build_json(wbuf *b, int level, const char *msg, json_t *fields) {
  wbuf_append(b, "{\"ts\":\"", 7);
  put_ts(b);
  wbuf_printf(b, "\",\"level\":\"%s\",\"msg\":", level_json[level]);
  put_escaped(b, msg, strlen(msg), true);
  if (json_is_object(fields)) {
    for (void *it = json_object_iter(fields); it; it = json_object_iter_next(fields, it)) {
      wbuf_putc(b, ',');
      put_key(b, json_object_iter_key(it), json_object_iter_key_len(it), false);
      wbuf_putc(b, ':');
      put_json(b, json_object_iter_value(it), 1);
    }
  } else if (fields) {
    wbuf_append(b, ",\"fields\":", 10);
    put_json(b, fields, 1);
  }
  wbuf_append(b, "}\n", 2);
}

static void put_text_value(wbuf *b, json_t *v) {
  if (json_is_string(v)) put_text_string(b, json_string_value(v), json_string_length(v));
  else put_json(b, v, 1);
}

static void build_text(wbuf *b, int level, const char *msg, json_t *fields) {
  put_ts(b);
  wbuf_putc(b, ' ');
  wbuf_append(b, level_text[level], 5);
  wbuf_putc(b, ' ');
  put_escaped(b, msg, strlen(msg), false);
  if (json_is_object(fields)) {
    for (void *it = json_object_iter(fields); it; it = json_object_iter_next(fields, it)) {
      wbuf_putc(b, ' ');
      put_key(b, json_object_iter_key(it), json_object_iter_key_len(it), true);
      wbuf_putc(b, '=');
      put_text_value(b, json_object_iter_value(it));
    }
  } else if (fields) {
    wbuf_append(b, " fields=", 8);
    put_text_value(b, fields);
  }
  wbuf_putc(b, '\n');
}

static void write_line(const char *p, size_t n) {
  int fd = atomic_load(&g_fd);
  pthread_mutex_lock(&g_write_lock);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, -1); /* a non-blocking stdout blocks like a blocking one */
    } else {
      break; /* EPIPE, EBADF, a full disk: the line is lost, there is nowhere to report it */
    }
  }
  pthread_mutex_unlock(&g_write_lock);
}

void wlog_emit(int level, const char *msg, json_t *fields) {
  if (level < WLOG_DEBUG || level > WLOG_ERROR || !wlog_enabled(level)) return;
  wbuf b = WBUF_INIT;
  wbuf_reserve(&b, 256);
  if (wlog_format() == WLOG_TEXT) build_text(&b, level, msg ? msg : "", fields);
  else build_json(&b, level, msg ? msg : "", fields);
  write_line(b.data, b.len);
  wbuf_free(&b);
}

void wlog_runtime(int level, const char *msg, ...) {
  if (!wlog_enabled(level)) return;
  json_t *fields = json_object();
  va_list ap;
  va_start(ap, msg);
  for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
    const char *v = va_arg(ap, const char *);
    if (fields)
      json_object_set_new_nocheck(fields, k, v ? json_stringn_nocheck(v, strlen(v)) : json_null());
  }
  va_end(ap);
  wlog_emit(level, msg, fields);
  json_decref(fields);
}

void wlog_pack(int level, const char *msg, const char *fmt, ...) {
  if (!wlog_enabled(level)) return;
  json_error_t err;
  va_list ap;
  va_start(ap, fmt);
  json_t *fields = json_vpack_ex(&err, 0, fmt, ap);
  va_end(ap);
  if (!fields) {
    fields = json_object();
    if (fields) json_object_set_new(fields, "log_error", json_string(err.text));
  }
  wlog_emit(level, msg, fields);
  json_decref(fields);
}

/* ---- SIGHUP: re-read the level ---- */

static char level_file[1024];

void wlog_set_level_file(const char *path) { snprintf(level_file, sizeof level_file, "%s", path ? path : ""); }

int wlog_reload_level(char *why, size_t whylen) {
  char text[64] = "";
  if (level_file[0]) {
    FILE *f = fopen(level_file, "r");
    if (!f) {
      snprintf(why, whylen, "cannot read %s: %s", level_file, strerror(errno));
      return -1;
    }
    if (!fgets(text, sizeof text, f)) text[0] = 0;
    fclose(f);
  } else {
    const char *env = getenv("WISP_LOG_LEVEL");
    if (!env) {
      snprintf(why, whylen, "no --log-level-file and no WISP_LOG_LEVEL");
      return -1;
    }
    snprintf(text, sizeof text, "%s", env);
  }
  size_t n = strlen(text);
  while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = 0;
  int level = wlog_parse_level(text);
  if (level < 0) {
    snprintf(why, whylen, "unknown level \"%s\" (debug, info, warn, error)", text);
    return -1;
  }
  wlog_set_level(level);
  return level;
}
