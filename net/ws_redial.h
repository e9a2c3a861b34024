/* net/ws_redial.h — what the WebSocket client computes between two connections, without
 * sockets or Lua: the back-off delay of a reconnect attempt, and the URL a redirect's Location
 * points to. The binding (stdlib/websocket.c) runs the reconnect and redirect loops.
 *
 * Back-off (the same formula as a service restart, actors/app.c): attempt n (1-based) waits
 * min(max, initial × factor^(n-1)) scaled by a uniform factor in [1 - jitter, 1 + jitter],
 * never below 0 nor above max × (1 + jitter).
 *
 * Location (RFC 9110 §10.2.2, RFC 3986 §5.2): an absolute URL is taken as it is (http:// and
 * https:// become ws:// and wss:// when parsed, net/url.h); a network-path reference
 * ("//host/p") takes the current scheme; an absolute path ("/p?q") the current scheme and
 * authority; a relative path ("p", "../p") is merged with the current path's directory (dot
 * segments are resolved by url_parse); "?q" replaces the query; an empty reference is the
 * current URL. A fragment is dropped (WebSocket URLs have none). */
#ifndef WISP_NET_WS_REDIAL_H
#define WISP_NET_WS_REDIAL_H
#include <stddef.h>
#include <stdint.h>
#include "net/url.h"

typedef struct ws_backoff {
  int64_t initial_ns, max_ns;
  double factor;  /* >= 1 */
  double jitter;  /* 0..1 */
} ws_backoff;

/* The delay before attempt n >= 1; u is a uniform random number in [0, 1). */
int64_t ws_backoff_delay(const ws_backoff *b, unsigned n, double u);

/* The absolute URL that loc[0..len) names relative to base (a parsed ws/wss URL): a malloc'd
 * NUL-terminated string to give to url_parse (out of memory aborts, as wbuf does). */
char *ws_redirect_url(const url_parts *base, const char *loc, size_t len);

#endif
