/* net/ws_proxy.c — proxy selection (option, environment, NO_PROXY), the CONNECT request and
 * the parser of the proxy's answer (see net/ws_proxy.h for the rules). Pure code apart from
 * the one-time read of the environment. */
#include "net/ws_proxy.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "net/base64.h"

/* ---- environment ---- */

static ws_proxy_env env_snap;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *env_pick(const char *lower, const char *upper) {
  const char *v = getenv(lower);
  if (!v || !*v) v = getenv(upper);
  if (!v || !*v) return NULL;
  return strdup(v); /* NULL when out of memory: as if unset */
}

/* Runs once; the strings live as long as the process. Nothing in Wisp changes its own
 * environment after start-up, so reading it here is reading it as the process started. */
static void env_load(void) {
  env_snap.http_proxy = env_pick("http_proxy", "HTTP_PROXY");
  env_snap.https_proxy = env_pick("https_proxy", "HTTPS_PROXY");
  env_snap.no_proxy = env_pick("no_proxy", "NO_PROXY");
}

const ws_proxy_env *ws_proxy_env_get(void) {
  pthread_once(&env_once, env_load);
  return &env_snap;
}

/* ---- NO_PROXY ---- */

/* n bits of prefix of a and b (16 bytes for v6, 4 for v4) are equal. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, whole) != 0) return false;
  if (!rest) return true;
  uint8_t m = (uint8_t)(0xFF << (8 - rest));
  return (a[whole] & m) == (b[whole] & m);
}

/* entry[0..n) is an IP address or CIDR block: does it contain host (an IP literal)? A
 * malformed block matches nothing. */
static bool ip_entry_match(const char *entry, size_t n, const char *host, url_host_kind kind) {
  char buf[64];
  if (n >= sizeof buf) return false;
  memcpy(buf, entry, n);
  buf[n] = 0;
  unsigned bits = 0;
  char *slash = strchr(buf, '/');
  if (slash) {
    *slash = 0;
    char *end;
    long b = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || b < 0 || b > 128) return false;
    bits = (unsigned)b;
  }
  uint8_t e[16], h[16];
  int fam = strchr(buf, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(fam, buf, e) != 1) return false;
  if ((fam == AF_INET6) != (kind == URL_HOST_IPV6)) return false;
  if (inet_pton(fam, host, h) != 1) return false;
  unsigned max = fam == AF_INET6 ? 128 : 32;
  if (!slash) bits = max;
  if (bits > max) return false;
  return prefix_eq(e, h, bits);
}

static bool is_sep(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* One entry (already trimmed, non-empty) against the target. */
static bool entry_match(const char *e, size_t n, const char *host, url_host_kind kind,
                        uint16_t port) {
  if (n == 1 && e[0] == '*') return true;
  /* an optional ":port": after "]" for a bracketed v6 address, else after the only ':' */
  const char *colon = NULL;
  if (e[0] == '[') {
    const char *rb = memchr(e, ']', n);
    if (!rb) return false;
    if ((size_t)(rb - e) + 1 < n) {
      if (rb[1] != ':') return false;
      colon = rb + 1;
    }
  } else {
    const char *c1 = memchr(e, ':', n);
    if (c1 && !memchr(c1 + 1, ':', n - (size_t)(c1 - e) - 1)) colon = c1; /* else bare v6 */
  }
  if (colon) {
    size_t pl = n - (size_t)(colon - e) - 1;
    if (!pl || pl > 5) return false;
    unsigned p = 0;
    for (size_t i = 1; i <= pl; i++) {
      if (colon[i] < '0' || colon[i] > '9') return false;
      p = p * 10 + (unsigned)(colon[i] - '0');
    }
    if (p != port) return false;
    n = (size_t)(colon - e);
  }
  if (n >= 2 && e[0] == '[' && e[n - 1] == ']') {
    e++;
    n -= 2;
  }
  if (!n) return false;
  /* IP literals and blocks: digits, dots, colons, a slash */
  bool ipish = true;
  for (size_t i = 0; i < n && ipish; i++)
    ipish = (e[i] >= '0' && e[i] <= '9') || e[i] == '.' || e[i] == ':' || e[i] == '/' ||
            (memchr(e, ':', n) && ((e[i] >= 'a' && e[i] <= 'f') || (e[i] >= 'A' && e[i] <= 'F')));
  if (ipish && (memchr(e, ':', n) || memchr(e, '/', n) || (n > 0 && e[n - 1] >= '0' && e[n - 1] <= '9')))
    return kind != URL_HOST_NAME && ip_entry_match(e, n, host, kind);
  /* a domain: ".x", "*.x" and "x" all mean x and its subdomains */
  if (n >= 2 && e[0] == '*' && e[1] == '.') e += 2, n -= 2;
  else if (e[0] == '.') e++, n--;
  if (n && e[n - 1] == '.') n--; /* "example.com." */
  if (!n || kind != URL_HOST_NAME) return false;
  size_t hl = strlen(host);
  if (hl == n) return strncasecmp(host, e, n) == 0;
  return hl > n && host[hl - n - 1] == '.' && strncasecmp(host + hl - n, e, n) == 0;
}

bool ws_no_proxy_match(const char *no_proxy, const char *host, url_host_kind kind, uint16_t port) {
  if (!no_proxy) return false;
  const char *p = no_proxy;
  while (*p) {
    while (*p && is_sep(*p)) p++;
    const char *s = p;
    while (*p && !is_sep(*p)) p++;
    if (p > s && entry_match(s, (size_t)(p - s), host, kind, port)) return true;
  }
  return false;
}

const char *ws_proxy_from_env(const ws_proxy_env *env, const url_parts *target, const char **var) {
  const char *v = target->tls ? env->https_proxy : env->http_proxy;
  if (var) {
    const char *lower = target->tls ? "https_proxy" : "http_proxy";
    const char *upper = target->tls ? "HTTPS_PROXY" : "HTTP_PROXY";
    const char *l = getenv(lower);
    *var = l && *l ? lower : upper; /* for messages only: which spelling was set */
  }
  if (!v) return NULL;
  if (ws_no_proxy_match(env->no_proxy, target->host, target->host_kind, target->port)) return NULL;
  return v;
}

int ws_proxy_parse(url_parts *p, const char *s, size_t len, char *err, size_t errsz) {
  if (len && !memmem(s, len, "://", 3)) { /* "host:3128": http:// is meant */
    if (len > URL_MAX_LEN) return url_parse(p, s, len, URL_PROXY, err, errsz);
    char *full = malloc(len + 8);
    if (!full) {
      snprintf(err, errsz, "out of memory");
      return -1;
    }
    memcpy(full, "http://", 7);
    memcpy(full + 7, s, len);
    int r = url_parse(p, full, len + 7, URL_PROXY, err, errsz);
    free(full);
    return r;
  }
  return url_parse(p, s, len, URL_PROXY, err, errsz);
}

/* ---- the request ---- */

void ws_proxy_request(wbuf *out, const url_parts *target, const url_parts *proxy) {
  char hp[300];
  if (target->host_kind == URL_HOST_IPV6) snprintf(hp, sizeof hp, "[%s]:%u", target->host, target->port);
  else snprintf(hp, sizeof hp, "%s:%u", target->host, target->port);
  wbuf_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", hp, hp);
  if (proxy->user) {
    size_t ul = proxy->user_len, pl = proxy->password ? proxy->password_len : 0;
    char *cred = malloc(ul + 1 + pl), *b64 = malloc(BASE64_ENCODED_LEN(ul + 1 + pl) + 1);
    if (!cred || !b64) {
      fputs("wisp: out of memory building a proxy request\n", stderr);
      abort();
    }
    memcpy(cred, proxy->user, ul);
    cred[ul] = ':';
    if (pl) memcpy(cred + ul + 1, proxy->password, pl);
    base64_encode(b64, cred, ul + 1 + pl);
    wbuf_printf(out, "Proxy-Authorization: Basic %s\r\n", b64);
    memset(cred, 0, ul + 1 + pl); /* credentials do not linger in freed memory */
    free(cred);
    free(b64);
  }
  wbuf_append(out, "\r\n", 2);
}

/* ---- the answer ---- */

static int fail(ws_proxy_response *r, int result, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ws_proxy_response *r, int result, bool retryable, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->retryable = retryable;
  return result;
}

/* Printable ASCII of p[0..n), at most max bytes, for messages. */
static void printable(char *out, size_t outsz, const char *p, size_t n, size_t max) {
  size_t o = 0;
  for (size_t i = 0; i < n && i < max && o + 1 < outsz; i++)
    out[o++] = (p[i] >= 0x20 && p[i] < 0x7F) ? p[i] : '?';
  out[o] = 0;
}

int ws_proxy_response_parse(ws_proxy_response *r, const char *buf, size_t len,
                            const char *proxy_name) {
  memset(r, 0, sizeof *r);
  /* status line */
  const char *eol = memchr(buf, '\n', len);
  size_t line = eol ? (size_t)(eol - buf) : len;
  if (line && buf[line - 1] == '\r') line--;
  bool http = len >= 5 ? memcmp(buf, "HTTP/", 5) == 0 : memcmp(buf, "HTTP/", len) == 0;
  if (!http) {
    char shown[48];
    printable(shown, sizeof shown, buf, len, 32);
    return fail(r, WS_PROXY_ERROR, true, "proxy %s did not answer CONNECT with HTTP (it sent "
                "\"%s\"); is it an HTTP proxy?", proxy_name, shown);
  }
  if (!eol) {
    if (len > WS_PROXY_HEAD_MAX) goto too_big;
    return WS_PROXY_NEED_MORE;
  }
  if (line < 12 || buf[5] != '1' || buf[6] != '.' || buf[8] != ' ' ||
      buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
      buf[11] > '9' || (line > 12 && buf[12] != ' ')) {
    char shown[96];
    printable(shown, sizeof shown, buf, line, 80);
    return fail(r, WS_PROXY_ERROR, true, "proxy %s: malformed status line \"%s\"", proxy_name,
                shown);
  }
  r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  /* end of the head: an empty line (CRLF or bare LF) */
  size_t end = 0;
  for (size_t i = line; i + 1 < len; i++) {
    if (buf[i] != '\n') continue;
    if (buf[i + 1] == '\n') { end = i + 2; break; }
    if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') { end = i + 3; break; }
  }
  if (!end) {
    if (len > WS_PROXY_HEAD_MAX) goto too_big;
    return WS_PROXY_NEED_MORE;
  }
  if (end > WS_PROXY_HEAD_MAX) goto too_big;
  if (r->status >= 200 && r->status < 300) {
    r->head_len = end;
    return WS_PROXY_OPEN;
  }
  char reason[96];
  printable(reason, sizeof reason, buf + 13, line > 13 ? line - 13 : 0, 80);
  if (r->status == 407 || r->status == 401) { /* tinyproxy says 401 to wrong credentials */
    /* the challenge says what the proxy wants */
    char challenge[128] = "";
    for (const char *p = eol + 1; p < buf + end;) {
      const char *e = memchr(p, '\n', (size_t)(buf + end - p));
      if (!e) break;
      size_t n = (size_t)(e - p);
      if (n > 19 && strncasecmp(p, "Proxy-Authenticate:", 19) == 0) {
        const char *v = p + 19;
        size_t vn = n - 19;
        while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == ' ')) vn--;
        printable(challenge, sizeof challenge, v, vn, 100);
        break;
      }
      p = e + 1;
    }
    return fail(r, WS_PROXY_REFUSED, false, "proxy %s refused the tunnel: %d %s (%s%s)",
                proxy_name, r->status, reason[0] ? reason : "Proxy Authentication Required",
                challenge[0] ? "credentials missing or wrong; it asks for " :
                "credentials missing or wrong", challenge);
  }
  return fail(r, WS_PROXY_REFUSED, r->status != 403, "proxy %s refused the tunnel: %d%s%s",
              proxy_name, r->status, reason[0] ? " " : "", reason);
too_big:
  return fail(r, WS_PROXY_ERROR, false, "proxy %s: answer head larger than %d bytes", proxy_name,
              WS_PROXY_HEAD_MAX);
}
