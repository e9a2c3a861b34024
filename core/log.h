/* core/log.h — the process-wide log writer. One event = one line on stdout (or the fd given to
 * wlog_set_fd), written with a single write(2) under a lock so lines from many threads never
 * interleave. Formats:
 *   json: {"ts":"2026-11-30T01:02:03.456Z","level":"info","msg":"...",<fields in order>}
 *   text: 2026-11-30T01:02:03.456Z INFO  msg key=value key2="needs quoting" obj={"a":1}
 * ts is RFC 3339 UTC with milliseconds. Field keys ts, level and msg would clash with the line's
 * own and are written as "fields.ts", "fields.level", "fields.msg". Strings may hold any bytes:
 * invalid UTF-8 is written as U+FFFD, so every line is valid UTF-8 (and valid JSON). */
#ifndef WISP_CORE_LOG_H
#define WISP_CORE_LOG_H
#include <jansson.h>
#include <stdbool.h>

enum { WLOG_DEBUG = 0, WLOG_INFO = 1, WLOG_WARN = 2, WLOG_ERROR = 3 };
enum { WLOG_JSON = 0, WLOG_TEXT = 1 };

/* "debug", "info", "warn" (or "warning"), "error", any case; -1 if unknown. */
int wlog_parse_level(const char *s);
/* "json" or "text"; -1 if unknown. */
int wlog_parse_format(const char *s);
const char *wlog_level_name(int level); /* "debug" ... "error"; "?" when out of range */

void wlog_set_level(int level); /* default WLOG_INFO */
int wlog_level(void);
bool wlog_enabled(int level);   /* level >= wlog_level(): one relaxed atomic load */
/* Default: WLOG_TEXT when stdout is a terminal at the first use, WLOG_JSON otherwise. */
void wlog_set_format(int format);
int wlog_format(void);
void wlog_set_fd(int fd);       /* default 1 (stdout); the caller keeps owning the fd */

/* Writes one line if level is enabled. fields: an object (borrowed, written in its iteration
 * order) or NULL. */
void wlog_emit(int level, const char *msg, json_t *fields);
/* Runtime events: fields as string pairs key, value, ..., NULL (a NULL value is null). */
void wlog_runtime(int level, const char *msg, ...) __attribute__((sentinel));
/* Runtime events with typed fields: fmt/... as for json_pack, and must build an object, e.g.
 * wlog_pack(WLOG_WARN, "restarting", "{s:s, s:i}", "service", id, "attempt", n). A format
 * error is logged in the line as field "log_error". */
void wlog_pack(int level, const char *msg, const char *fmt, ...);

/* SIGHUP support: the level is re-read from `path` (a file holding a level name, e.g. a
 * mounted ConfigMap) when set, else from the environment variable WISP_LOG_LEVEL as it was at
 * start. wlog_reload_level returns the new level, or -1 with the reason. */
void wlog_set_level_file(const char *path);
int wlog_reload_level(char *why, size_t whylen);

#endif
