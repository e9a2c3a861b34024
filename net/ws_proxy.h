/* net/ws_proxy.h — HTTP proxies for the WebSocket client, without sockets: which proxy a URL
 * goes through (the `proxy` option, or HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the process
 * environment), the HTTP/1.1 CONNECT request that opens the tunnel (RFC 9110 §9.3.6, with
 * Proxy-Authorization Basic from the proxy URL's user info, RFC 7617), and an incremental
 * parser of the proxy's answer. The dial (net/ws_dial.c) connects to the proxy, sends the
 * request, feeds the answer here and, on 2xx, runs TLS (wss) and the upgrade inside the tunnel.
 *
 * Decisions:
 *  - Environment: lower-case names first, then upper-case (curl's order): https_proxy for
 *    wss://, http_proxy for ws://; no ALL_PROXY. A value without "://" means http://. Only
 *    http:// proxies exist (TLS to the proxy itself is not supported: url.h refuses it).
 *  - NO_PROXY: entries separated by commas or white space, case-insensitive. "*" excludes
 *    everything; "example.com", ".example.com" and "*.example.com" all exclude example.com and
 *    every name under it; an IP address excludes itself, a CIDR block ("10.0.0.0/8",
 *    "fd00::/8") the IP literals in it (names are never resolved for this); ":port" after an
 *    entry ("example.com:8443", "[::1]:80") limits it to that port. Loopback is not excluded
 *    unless listed (curl's rule; Go's differs).
 *  - The CONNECT target is always host:port with the port written out, IPv6 in brackets; the
 *    Host header repeats it (RFC 9112 §3.2.3). Nothing else is sent: user headers belong to the
 *    WebSocket request, which goes through the tunnel.
 *  - Any 2xx answer opens the tunnel (RFC 9110 §9.3.6); bytes after its head belong to the
 *    tunnel. Anything else is a refusal: 407 and 401 (credentials missing or wrong; tinyproxy
 *    answers wrong ones with 401) and 403 are final
 *    (a retry repeats them), other statuses retryable (502/503/504: the proxy could not reach
 *    the server now). */
#ifndef WISP_NET_WS_PROXY_H
#define WISP_NET_WS_PROXY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "net/url.h"

#define WS_PROXY_HEAD_MAX 16384 /* status line + headers of the proxy's answer */
#define WS_PROXY_ERR_MAX 320

/* The proxy variables of the process environment, read once on first use (any thread). A
 * variable that is unset or empty is NULL. */
typedef struct ws_proxy_env {
  const char *http_proxy;  /* http_proxy, else HTTP_PROXY */
  const char *https_proxy; /* https_proxy, else HTTPS_PROXY */
  const char *no_proxy;    /* no_proxy, else NO_PROXY */
} ws_proxy_env;
const ws_proxy_env *ws_proxy_env_get(void);

/* True when the NO_PROXY list excludes this target (host as in url_parts: lower-case, no
 * brackets; kind says whether it is an IP literal). NULL or "" excludes nothing. */
bool ws_no_proxy_match(const char *no_proxy, const char *host, url_host_kind kind, uint16_t port);

/* The proxy the environment gives for target, NULL when none applies (unset, or excluded by
 * NO_PROXY). *var is set to the variable's name for messages ("https_proxy", "HTTP_PROXY"). */
const char *ws_proxy_from_env(const ws_proxy_env *env, const url_parts *target, const char **var);

/* Parses a proxy URL as given by a user or the environment ("http://user:pw@host:3128",
 * "host:3128" meaning http://host:3128) into p (url_parse with URL_PROXY). 0, or -1 with a
 * message in err (credentials shown as "***"). */
int ws_proxy_parse(url_parts *p, const char *s, size_t len, char *err, size_t errsz);

/* Appends the CONNECT request for target through proxy (whose user info, if any, becomes
 * Proxy-Authorization: Basic). */
void ws_proxy_request(wbuf *out, const url_parts *target, const url_parts *proxy);

enum { WS_PROXY_NEED_MORE = 0, WS_PROXY_OPEN = 1, WS_PROXY_REFUSED = 2, WS_PROXY_ERROR = -1 };

typedef struct ws_proxy_response {
  int status;          /* the answer's status code, 0 before the status line is complete */
  size_t head_len;     /* OPEN: bytes of the head; the tunnel's bytes follow */
  bool retryable;      /* REFUSED / ERROR: whether trying again may succeed */
  char error[WS_PROXY_ERR_MAX]; /* REFUSED / ERROR: what went wrong, for the user */
} ws_proxy_response;

/* buf[0..len) is everything the proxy sent so far. Returns WS_PROXY_NEED_MORE, WS_PROXY_OPEN
 * (2xx: head_len set), WS_PROXY_REFUSED (another status; error says which, with the
 * Proxy-Authenticate challenge of a 407) or WS_PROXY_ERROR (not an HTTP answer, or a head
 * over WS_PROXY_HEAD_MAX). The proxy named in messages is proxy_name. */
int ws_proxy_response_parse(ws_proxy_response *r, const char *buf, size_t len,
                            const char *proxy_name);

#endif
