/* net/url.c — URL parsing and normalisation for websocket.connect and HTTP proxies.
 * One pass per component; the output strings are built in one wbuf and handed to the caller
 * as a single allocation. Every rejection names what is wrong; the URL quoted in the message
 * has its user info replaced by "***" so credentials never reach a log. */
#include "net/url.h"
#include "net/quote.h"
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"

#define QUOTE_MAX 64 /* bytes of a URL component shown in an error message */

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
static int to_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static bool is_unreserved(int c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
static bool is_sub_delim(int c) { return c != 0 && strchr("!$&'()*+,;=", c) != NULL; }


typedef struct {
  const char *s;
  size_t len;
  bool proxy;
  char *err;
  size_t errsz;
} url_ctx;

/* Formats `invalid URL "<url>": <detail>` into the error buffer; returns -1. */
static int url_fail(const url_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int url_fail(const url_ctx *c, const char *fmt, ...) {
  if (!c->err || c->errsz == 0) return -1;
  char shown[160] = "";
  const char *s = c->s;
  size_t len = c->len;
  /* Redact user info: up to the last '@' of the authority, or for proxy URLs (whose only
   * '@' can be the credentials' one) the last '@' anywhere, even after a raw '/'. */
  const char *sep = len >= 3 ? memmem(s, len, "://", 3) : NULL;
  size_t a = sep ? (size_t)(sep - s) + 3 : len, ae = a;
  while (ae < len && (c->proxy || (s[ae] != '/' && s[ae] != '?' && s[ae] != '#'))) ae++;
  const char *at = ae > a ? memrchr(s + a, '@', ae - a) : NULL;
  if (at) {
    quote_append(shown, sizeof shown, s, a, QUOTE_MAX * 2);
    strcat(shown, "***");
    size_t rest = len - (size_t)(at - s);
    quote_append(shown, sizeof shown, at, rest, QUOTE_MAX * 2 > a ? QUOTE_MAX * 2 - a : 8);
  } else {
    quote_append(shown, sizeof shown, s, len, QUOTE_MAX * 2);
  }
  int n = snprintf(c->err, c->errsz, "invalid %sURL \"%s\": ", c->proxy ? "proxy " : "", shown);
  if (n < 0 || (size_t)n >= c->errsz) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err + n, c->errsz - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

size_t url_remove_dot_segments(char *out, const char *in, size_t len) {
  size_t o = 0, i = 0;
  while (i < len) {
    /* in[i] == '/': one segment in[i+1 .. j) follows */
    size_t j = i + 1;
    while (j < len && in[j] != '/') j++;
    size_t n = j - i - 1;
    bool last = j == len;
    const char *seg = in + i + 1;
    if (n == 1 && seg[0] == '.') {
      if (last) out[o++] = '/';
    } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--; /* drop the segment and its '/' */
      if (last) out[o++] = '/';
    } else {
      out[o++] = '/';
      memcpy(out + o, seg, n);
      o += n;
    }
    i = j;
  }
  return o;
}

/* Normalises the percent-encoding of a path or query into b: decodes escaped unreserved
 * characters, upper-cases the others, escapes bytes that may not appear raw. */
static int normalize_component(const url_ctx *c, wbuf *b, const char *p, size_t n,
                               bool query) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == '%') {
      int hi = i + 2 < n ? hex_value((unsigned char)p[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value((unsigned char)p[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        char shown[16] = "";
        quote_append(shown, sizeof shown, p + i, n - i < 3 ? n - i : 3, 3);
        return url_fail(c, "invalid percent-encoding \"%s\" in the %s", shown,
                        query ? "query" : "path");
      }
      int v = hi << 4 | lo;
      if (is_unreserved(v)) {
        wbuf_putc(b, (uint8_t)v);
      } else {
        char e[3] = {'%', hex[v >> 4], hex[v & 15]};
        wbuf_append(b, e, 3);
      }
      i += 2;
    } else if (is_unreserved(ch) || is_sub_delim(ch) || ch == ':' || ch == '@' || ch == '/' ||
               (query && ch == '?')) {
      wbuf_putc(b, ch);
    } else {
      char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      wbuf_append(b, e, 3);
    }
  }
  return 0;
}

/* Appends b->data[off .. off + n) to b itself (reserving first: appending may move data). */
static void append_self(wbuf *b, size_t off, size_t n) {
  wbuf_reserve(b, n);
  memcpy(b->data + b->len, b->data + off, n);
  b->len += n;
}

/* Strict dotted quad: four decimal parts 0-255 without leading zeros. */
static bool parse_ipv4(const char *h, size_t n) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || h[i] != '.') return false;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < n && is_digit(h[i]) && i - start < 3) v = v * 10 + (unsigned)(h[i++] - '0');
    size_t digits = i - start;
    if (digits == 0 || v > 255 || (digits > 1 && h[start] == '0')) return false;
  }
  return i == n;
}

/* WHATWG's "ends in a number": the last label is all digits or 0x-hex. */
static bool ends_in_number(const char *h, size_t n) {
  size_t i = n;
  while (i > 0 && h[i - 1] != '.') i--;
  const char *l = h + i;
  size_t m = n - i;
  if (m == 0) return false;
  bool digits = true;
  for (size_t k = 0; k < m; k++) digits = digits && is_digit(l[k]);
  if (digits) return true;
  if (m >= 2 && l[0] == '0' && l[1] == 'x') {
    for (size_t k = 2; k < m; k++)
      if (hex_value((unsigned char)l[k]) < 0) return false;
    return true;
  }
  return false;
}

/* Validates a reg-name or IPv4 host (already lower-cased, trailing dot stripped). */
static int check_host(const url_ctx *c, const char *h, size_t n, url_host_kind *kind) {
  char shown[QUOTE_MAX + 8] = "";
  quote_append(shown, sizeof shown, h, n, QUOTE_MAX);
  if (n == 0) return url_fail(c, "missing host");
  if (n > 253) return url_fail(c, "host name is longer than 253 bytes");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)h[i];
    if (ch >= 0x80)
      return url_fail(c, "non-ASCII host name \"%s\" (use its punycode xn-- form)", shown);
    if (ch == '%')
      return url_fail(c, "percent-encoded host name \"%s\" is not supported", shown);
    if (!(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_' || ch == '.'))
      return url_fail(c, "invalid character '%c' in host \"%s\"", ch, shown);
  }
  size_t label = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || h[i] == '.') {
      if (label == 0) return url_fail(c, "empty label in host \"%s\"", shown);
      if (label > 63) return url_fail(c, "label longer than 63 bytes in host \"%s\"", shown);
      label = 0;
    } else {
      label++;
    }
  }
  if (ends_in_number(h, n)) {
    if (!parse_ipv4(h, n))
      return url_fail(c, "invalid IPv4 address \"%s\" (use four decimal numbers 0-255)", shown);
    *kind = URL_HOST_IPV4;
  } else {
    *kind = URL_HOST_NAME;
  }
  return 0;
}

static int parse_userinfo(const url_ctx *c, wbuf *b, const char *p, size_t n, size_t *user_len,
                          long *pass_off, size_t *pass_len) {
  size_t start = b->len;
  *pass_off = -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == ':' && *pass_off < 0) {
      *user_len = b->len - start;
      wbuf_putc(b, 0);
      *pass_off = (long)b->len;
    } else if (ch == '%') {
      int hi = i + 1 < n ? hex_value((unsigned char)p[i + 1]) : -1;
      int lo = hi >= 0 && i + 2 < n ? hex_value((unsigned char)p[i + 2]) : -1;
      if (hi < 0 || lo < 0) return url_fail(c, "invalid percent-encoding in user info");
      if ((hi << 4 | lo) == 0) return url_fail(c, "user info contains a NUL byte (%%00)");
      wbuf_putc(b, (uint8_t)(hi << 4 | lo));
      i += 2;
    } else if (is_unreserved(ch) || is_sub_delim(ch) || ch == ':') {
      wbuf_putc(b, ch);
    } else {
      return url_fail(c, "invalid character in user info (percent-encode it)");
    }
  }
  if (*pass_off < 0)
    *user_len = b->len - start;
  else
    *pass_len = b->len - (size_t)*pass_off;
  wbuf_putc(b, 0);
  return 0;
}

int url_parse(url_parts *u, const char *s, size_t len, unsigned flags, char *err, size_t errsz) {
  url_ctx c = {s, len, (flags & URL_PROXY) != 0, err, errsz};
  const char *use = c.proxy ? "use http://" : "use ws:// or wss://";
  memset(u, 0, sizeof *u);
  if (err && errsz) err[0] = '\0';
  if (len > URL_MAX_LEN) return url_fail(&c, "URL is longer than %d bytes", URL_MAX_LEN);
  if (len == 0) return url_fail(&c, "empty URL");
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7F)
      return url_fail(&c, "control character 0x%02X at offset %zu", ch, i);
  }
  if (memchr(s, '#', len))
    return c.proxy ? url_fail(&c, "fragments are not allowed in proxy URLs")
                   : url_fail(&c, "fragments are not allowed in WebSocket URLs (RFC 6455 "
                                  "section 3); percent-encode '#' as %%23");

  /* scheme */
  size_t i = 0;
  while (i < len && (is_alpha(s[i]) || (i > 0 && (is_digit(s[i]) || s[i] == '+' ||
                                                  s[i] == '-' || s[i] == '.'))))
    i++;
  if (i == 0 || i == len || s[i] != ':') return url_fail(&c, "missing scheme (%s)", use);
  char scheme[8] = "";
  if (i < sizeof scheme)
    for (size_t k = 0; k < i; k++) scheme[k] = (char)to_lower(s[k]);
  bool tls;
  const char *canon;
  if (c.proxy) {
    if (strcmp(scheme, "http") != 0) {
      char shown[QUOTE_MAX + 8] = "";
      quote_append(shown, sizeof shown, s, i, 16);
      return url_fail(&c, "unsupported proxy scheme \"%s\" (%s)", shown, use);
    }
    tls = false;
    canon = "http";
  } else if (!strcmp(scheme, "ws") || !strcmp(scheme, "http")) {
    tls = false;
    canon = "ws";
  } else if (!strcmp(scheme, "wss") || !strcmp(scheme, "https")) {
    tls = true;
    canon = "wss";
  } else {
    char shown[QUOTE_MAX + 8] = "";
    quote_append(shown, sizeof shown, s, i, 16);
    return url_fail(&c, "unsupported scheme \"%s\" (%s)", shown, use);
  }
  if (len - i < 3 || s[i + 1] != '/' || s[i + 2] != '/')
    return url_fail(&c, "expected \"//\" after \"%s:\"", scheme);

  /* authority */
  size_t a = i + 3, ae = a;
  while (ae < len && s[ae] != '/' && s[ae] != '?') ae++;
  /* A proxy URL has no path, so an '@' after the authority means credentials holding a raw
   * '/' or '?': say so without quoting any of it. */
  if (c.proxy && ae < len && memchr(s + ae, '@', len - ae))
    return url_fail(&c, "'/' and '?' in user info must be percent-encoded (%%2F, %%3F)");
  const char *at = ae > a ? memrchr(s + a, '@', ae - a) : NULL;
  size_t h = at ? (size_t)(at - s) + 1 : a;
  if (at && !c.proxy)
    return url_fail(&c, "user info is not supported in WebSocket URLs (send credentials in a "
                        "header, e.g. Authorization)");

  wbuf b = WBUF_INIT;
  size_t user_off = 0, user_len = 0, pass_len = 0;
  long pass_off = -1;
  if (at) {
    user_off = b.len;
    if (parse_userinfo(&c, &b, s + a, (size_t)(at - s) - a, &user_len, &pass_off, &pass_len))
      goto fail;
  }

  /* host */
  size_t host_off = b.len, pe; /* pe: where ":port" starts, or ae */
  url_host_kind kind = URL_HOST_NAME; /* every branch below sets it */
  if (h < ae && s[h] == '[') {
    const char *close = memchr(s + h, ']', ae - h);
    if (!close) {
      url_fail(&c, "unterminated IPv6 address (missing ']')");
      goto fail;
    }
    size_t n = (size_t)(close - s) - h - 1;
    const char *v6 = s + h + 1;
    char tmp[INET6_ADDRSTRLEN + 1], shown[QUOTE_MAX + 8] = "";
    quote_append(shown, sizeof shown, v6, n, QUOTE_MAX);
    unsigned char bin[16];
    if (n > 0 && (v6[0] == 'v' || v6[0] == 'V')) {
      url_fail(&c, "IPvFuture address \"%s\" is not supported", shown);
      goto fail;
    }
    if (memchr(v6, '%', n)) {
      url_fail(&c, "IPv6 zone identifiers are not supported (\"%s\")", shown);
      goto fail;
    }
    if (n >= sizeof tmp) n = sizeof tmp - 1; /* too long to be valid; inet_pton says so */
    memcpy(tmp, v6, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, bin) != 1) {
      url_fail(&c, "invalid IPv6 address \"%s\"", shown);
      goto fail;
    }
    inet_ntop(AF_INET6, bin, tmp, sizeof tmp);
    wbuf_append(&b, tmp, strlen(tmp));
    kind = URL_HOST_IPV6;
    pe = (size_t)(close - s) + 1;
    if (pe < ae && s[pe] != ':') {
      url_fail(&c, "unexpected character '%c' after the IPv6 address", s[pe]);
      goto fail;
    }
  } else {
    const char *colon = memchr(s + h, ':', ae - h);
    pe = colon ? (size_t)(colon - s) : ae;
    size_t n = pe - h;
    for (size_t k = 0; k < n; k++) wbuf_putc(&b, (uint8_t)to_lower((unsigned char)s[h + k]));
    if (n > 1 && b.data[b.len - 1] == '.') b.len--; /* "example.com." names "example.com" */
    if (check_host(&c, b.data ? b.data + host_off : "", b.len - host_off, &kind)) goto fail;
  }
  size_t host_len = b.len - host_off;
  wbuf_putc(&b, 0);

  /* port */
  unsigned port = tls ? 443 : 80, dflt = port;
  if (pe < ae) { /* s[pe] == ':' */
    const char *p = s + pe + 1;
    size_t n = ae - pe - 1;
    char shown[QUOTE_MAX + 8] = "";
    quote_append(shown, sizeof shown, p, n, 16);
    if (n > 0) {
      unsigned v = 0;
      for (size_t k = 0; k < n; k++) {
        if (!is_digit(p[k])) {
          url_fail(&c, "invalid port \"%s\" (use a number 1-65535)", shown);
          goto fail;
        }
        if (v <= 65535) v = v * 10 + (unsigned)(p[k] - '0');
      }
      if (v == 0 || v > 65535) {
        url_fail(&c, "port %s is out of range (1-65535)", shown);
        goto fail;
      }
      port = v;
    }
  }

  /* authority string */
  size_t auth_off = b.len;
  if (kind == URL_HOST_IPV6) wbuf_putc(&b, '[');
  append_self(&b, host_off, host_len);
  if (kind == URL_HOST_IPV6) wbuf_putc(&b, ']');
  if (port != dflt) wbuf_printf(&b, ":%u", port);
  size_t auth_len = b.len - auth_off;
  wbuf_putc(&b, 0);

  /* path and query */
  const char *q = memchr(s + ae, '?', len - ae);
  size_t path_end = q ? (size_t)(q - s) : len;
  size_t target_off;
  if (c.proxy) {
    if (q || path_end - ae > 1) {
      url_fail(&c, "a proxy URL must not have a path or query");
      goto fail;
    }
    target_off = b.len;
    wbuf_append(&b, "/", 2);
  } else {
    wbuf raw = WBUF_INIT;
    if (path_end == ae) wbuf_putc(&raw, '/');
    if (normalize_component(&c, &raw, s + ae, path_end - ae, false)) {
      wbuf_free(&raw);
      goto fail;
    }
    wbuf_reserve(&b, raw.len + 1);
    target_off = b.len;
    b.len += url_remove_dot_segments(b.data + b.len, raw.data, raw.len);
    wbuf_free(&raw);
    if (q) {
      wbuf_putc(&b, '?');
      if (normalize_component(&c, &b, q + 1, len - (size_t)(q - s) - 1, true)) goto fail;
    }
    wbuf_putc(&b, 0);
  }

  /* normalised string */
  size_t norm_off = b.len;
  wbuf_printf(&b, "%s://", canon);
  append_self(&b, auth_off, auth_len);
  if (!c.proxy) append_self(&b, target_off, strlen(b.data + target_off));
  if (b.len - norm_off > URL_MAX_LEN) { /* escaping can triple a URL; keep parse(normalized) */
    url_fail(&c, "URL is longer than %d bytes once normalised", URL_MAX_LEN);
    goto fail;
  }
  wbuf_putc(&b, 0);

  u->mem = b.data;
  u->scheme = canon;
  u->tls = tls;
  u->host_kind = kind;
  u->host = b.data + host_off;
  u->port = (uint16_t)port;
  u->authority = b.data + auth_off;
  u->target = b.data + target_off;
  u->normalized = b.data + norm_off;
  if (at) {
    u->user = b.data + user_off;
    u->user_len = user_len;
    if (pass_off >= 0) {
      u->password = b.data + pass_off;
      u->password_len = pass_len;
    }
  }
  return 0;

fail:
  if (b.data) explicit_bzero(b.data, b.cap); /* may hold decoded credentials */
  wbuf_free(&b);
  return -1;
}

void url_free(url_parts *u) {
  if (u->mem) explicit_bzero(u->mem, strlen(u->normalized) + (size_t)(u->normalized - u->mem));
  free(u->mem);
  memset(u, 0, sizeof *u);
}
