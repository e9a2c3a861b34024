/* net/ws_handshake.c — upgrade request building and 101 response validation.
 * Response parsing decisions: lines may end in CRLF or a bare LF (RFC 7230 §3.5), a bare CR
 * is an error, obsolete line folding is an error, whitespace before a header's colon is an
 * error (RFC 7230 §3.2.4). Interim 1xx responses other than 101 are not skipped: a server has
 * no reason to send one to a GET without Expect, so they fail the handshake. */
#include "net/ws_handshake.h"
#include "net/quote.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include "net/base64.h"
#include "net/ws_frame.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SHOW_MAX 48 /* bytes of a received value quoted in an error message */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool ieq(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return false;
  return true;
}

static bool is_tchar(int c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *p, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)p[i])) return false;
  return true;
}

/* p[0..n) as a quoted-safe string (see net/quote.h), replacing out's contents. */
static void show(char *out, size_t outsz, const char *p, size_t n, size_t max) {
  out[0] = '\0';
  quote_append(out, outsz, p, n, max);
}

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...) {
  if (err && errsz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ---- user input ------------------------------------------------------------------------ */

int ws_check_header(const char *name, size_t name_len, const char *value, size_t value_len,
                    char *err, size_t errsz) {
  char shown[SHOW_MAX * 4 + 8];
  show(shown, sizeof shown, name, name_len, SHOW_MAX);
  if (!is_token(name, name_len))
    return fail(err, errsz, "invalid header name \"%s\": must be an RFC 7230 token", shown);
  if (ieq(name, name_len, "host") || ieq(name, name_len, "upgrade") ||
      ieq(name, name_len, "connection") ||
      (name_len >= 14 && ieq(name, 14, "sec-websocket-")))
    return fail(err, errsz,
                "header \"%s\" is set by the WebSocket client and cannot be overridden", shown);
  if (ieq(name, name_len, "content-length") || ieq(name, name_len, "transfer-encoding"))
    return fail(err, errsz, "header \"%s\" is not allowed: the upgrade request has no body",
                shown);
  for (size_t i = 0; i < value_len; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c == '\r' || c == '\n' || c == 0)
      return fail(err, errsz, "header \"%s\" value contains CR, LF or NUL", shown);
    if ((c < 0x20 && c != '\t') || c == 0x7F)
      return fail(err, errsz, "header \"%s\" value contains control character 0x%02X", shown,
                  c);
  }
  return 0;
}

int ws_check_protocols(const ws_str *protocols, size_t n, char *err, size_t errsz) {
  for (size_t i = 0; i < n; i++) {
    char shown[SHOW_MAX * 4 + 8];
    show(shown, sizeof shown, protocols[i].ptr, protocols[i].len, SHOW_MAX);
    if (protocols[i].len == 0) return fail(err, errsz, "empty subprotocol name");
    if (!is_token(protocols[i].ptr, protocols[i].len))
      return fail(err, errsz, "invalid subprotocol \"%s\": must be an RFC 6455 token", shown);
    for (size_t j = 0; j < i; j++)
      if (protocols[j].len == protocols[i].len &&
          memcmp(protocols[j].ptr, protocols[i].ptr, protocols[i].len) == 0)
        return fail(err, errsz, "duplicate subprotocol \"%s\"", shown);
  }
  return 0;
}

/* ---- request --------------------------------------------------------------------------- */

int ws_handshake_key(char key[WS_KEY_LEN + 1]) {
  uint8_t nonce[16];
  if (ws_getrandom(nonce, sizeof nonce) < 0) return -1;
  base64_encode(key, nonce, sizeof nonce);
  return 0;
}

int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char key[WS_KEY_LEN]) {
  uint8_t in[WS_KEY_LEN + sizeof WS_GUID - 1], digest[WC_SHA_DIGEST_SIZE];
  memcpy(in, key, WS_KEY_LEN);
  memcpy(in + WS_KEY_LEN, WS_GUID, sizeof WS_GUID - 1);
  if (wc_ShaHash(in, (word32)sizeof in, digest) != 0) {
    out[0] = '\0';
    return -1;
  }
  base64_encode(out, digest, sizeof digest);
  return 0;
}

int ws_build_request(wbuf *out, const ws_request *req, const char key[WS_KEY_LEN], char *err,
                     size_t errsz) {
  if (ws_check_protocols(req->protocols, req->nprotocols, err, errsz)) return -1;
  for (size_t i = 0; i < req->nheaders; i++) {
    const ws_header *h = &req->headers[i];
    if (ws_check_header(h->name, h->name_len, h->value, h->value_len, err, errsz)) return -1;
  }
  if (req->extensions) {
    for (const char *p = req->extensions; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7F)
        return fail(err, errsz, "extension offer contains a control character");
  }
  for (size_t i = 0; i < WS_KEY_LEN; i++)
    if (!is_tchar((unsigned char)key[i]) && key[i] != '/' && key[i] != '=')
      return fail(err, errsz, "malformed Sec-WebSocket-Key");

  wbuf_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\n", req->url->target, req->url->authority);
  wbuf_printf(out, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %.*s\r\n"
                   "Sec-WebSocket-Version: 13\r\n", WS_KEY_LEN, key);
  if (req->nprotocols) {
    wbuf_printf(out, "Sec-WebSocket-Protocol: ");
    for (size_t i = 0; i < req->nprotocols; i++) {
      if (i) wbuf_append(out, ", ", 2);
      wbuf_append(out, req->protocols[i].ptr, req->protocols[i].len);
    }
    wbuf_append(out, "\r\n", 2);
  }
  if (req->extensions) wbuf_printf(out, "Sec-WebSocket-Extensions: %s\r\n", req->extensions);
  for (size_t i = 0; i < req->nheaders; i++) {
    const ws_header *h = &req->headers[i];
    wbuf_append(out, h->name, h->name_len);
    wbuf_append(out, ": ", 2);
    wbuf_append(out, h->value, h->value_len);
    wbuf_append(out, "\r\n", 2);
  }
  wbuf_append(out, "\r\n", 2);
  return 0;
}

/* ---- response -------------------------------------------------------------------------- */

void ws_response_init(ws_response *r, const char key[WS_KEY_LEN], const ws_str *offered,
                      size_t noffered, bool extensions_offered) {
  memset(r, 0, sizeof *r);
  r->offered = offered;
  r->noffered = noffered;
  r->extensions_offered = extensions_offered;
  r->result = WS_HS_NEED_MORE;
  if (ws_accept_key(r->accept, key) != 0) {
    r->result = WS_HS_ERROR;
    snprintf(r->error, sizeof r->error, "SHA-1 failed while computing Sec-WebSocket-Accept");
  }
}

static int response_fail(ws_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int response_fail(ws_response *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->result = WS_HS_ERROR;
  return WS_HS_ERROR;
}

/* Splits off the line starting at *pos within buf[0..end): sets *line and *n to its content
 * without the terminator. Returns false on a bare CR. The block always ends with a newline. */
static bool next_line(const char *buf, size_t end, size_t *pos, const char **line, size_t *n) {
  const char *p = buf + *pos;
  const char *nl = memchr(p, '\n', end - *pos);
  size_t len = (size_t)(nl - p);
  *pos += len + 1;
  if (len > 0 && p[len - 1] == '\r') len--;
  if (memchr(p, '\r', len)) return false;
  *line = p;
  *n = len;
  return true;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static bool parse_status_line(const char *l, size_t n, int *minor, int *status, ws_str *reason) {
  if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ')
    return false;
  for (int i = 9; i < 12; i++)
    if (l[i] < '0' || l[i] > '9') return false;
  if (n > 12 && l[12] != ' ') return false;
  for (size_t i = 13; i < n; i++) {
    unsigned char c = (unsigned char)l[i];
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  int st = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  if (st < 100) return false;
  *minor = l[7] - '0';
  *status = st;
  reason->ptr = n > 13 ? l + 13 : l + n;
  reason->len = n > 13 ? n - 13 : 0;
  return true;
}

static int parse_header_line(ws_response *r, const char *l, size_t n) {
  char shown[SHOW_MAX * 4 + 8];
  if (l[0] == ' ' || l[0] == '\t')
    return response_fail(r, "obsolete line folding in response headers");
  const char *colon = memchr(l, ':', n);
  size_t name_len = colon ? (size_t)(colon - l) : n;
  if (!colon || !is_token(l, name_len)) {
    show(shown, sizeof shown, l, n, SHOW_MAX);
    return response_fail(r, "malformed response header line \"%s\"", shown);
  }
  const char *v = colon + 1, *ve = l + n;
  while (v < ve && (*v == ' ' || *v == '\t')) v++;
  while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
  for (const char *p = v; p < ve; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      show(shown, sizeof shown, l, name_len, SHOW_MAX);
      return response_fail(r, "control character 0x%02X in response header \"%s\"", c, shown);
    }
  }
  ws_header *h = &r->headers[r->nheaders++];
  h->name = l;
  h->name_len = name_len;
  h->value = v;
  h->value_len = (size_t)(ve - v);
  return 0;
}

const ws_header *ws_response_next(const ws_response *r, const char *name, size_t *pos) {
  for (; *pos < r->nheaders; (*pos)++) {
    const ws_header *h = &r->headers[*pos];
    if (ieq(h->name, h->name_len, name)) {
      (*pos)++;
      return h;
    }
  }
  return NULL;
}

/* The only header named name, or NULL; *dup set when there is more than one. */
static const ws_header *single(const ws_response *r, const char *name, bool *dup) {
  size_t pos = 0;
  const ws_header *h = ws_response_next(r, name, &pos);
  *dup = h && ws_response_next(r, name, &pos) != NULL;
  return h;
}

/* Does a comma-separated list contain the token tok (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *tok) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e > s && ieq(v + s, e - s, tok)) return true;
  }
  return false;
}

static int validate(ws_response *r) {
  char shown[SHOW_MAX * 4 + 8], shown2[SHOW_MAX * 4 + 8];
  bool dup;
  size_t pos = 0;
  const ws_header *h;
  if (r->status >= 300 && r->status < 400) {
    h = single(r, "location", &dup);
    if (h) {
      r->location.ptr = h->value;
      r->location.len = h->value_len;
    }
  }
  if (r->status != 101) {
    show(shown, sizeof shown, r->reason.ptr, r->reason.len, SHOW_MAX);
    if (r->location.ptr) {
      show(shown2, sizeof shown2, r->location.ptr, r->location.len, SHOW_MAX * 2);
      return response_fail(r, "server answered HTTP %d %s redirecting to \"%s\" (redirects are "
                              "not followed)", r->status, shown, shown2);
    }
    return response_fail(r, "server answered HTTP %d %s instead of 101 Switching Protocols",
                         r->status, shown);
  }
  if (r->minor_version != 1)
    return response_fail(r, "server answered 101 with HTTP/1.%d (HTTP/1.1 required)",
                         r->minor_version);

  h = single(r, "upgrade", &dup);
  if (!h) return response_fail(r, "missing Upgrade header in the 101 response");
  if (dup) return response_fail(r, "duplicate Upgrade header in the 101 response");
  if (!ieq(h->value, h->value_len, "websocket")) {
    show(shown, sizeof shown, h->value, h->value_len, SHOW_MAX);
    return response_fail(r, "Upgrade header is \"%s\", expected \"websocket\"", shown);
  }

  bool upgrade = false, any = false;
  pos = 0;
  while ((h = ws_response_next(r, "connection", &pos)) != NULL) {
    any = true;
    if (list_has(h->value, h->value_len, "upgrade")) upgrade = true;
  }
  if (!any) return response_fail(r, "missing Connection header in the 101 response");
  if (!upgrade) return response_fail(r, "Connection header does not contain \"Upgrade\"");

  h = single(r, "sec-websocket-accept", &dup);
  if (!h) return response_fail(r, "missing Sec-WebSocket-Accept header");
  if (dup) return response_fail(r, "duplicate Sec-WebSocket-Accept header");
  if (h->value_len != WS_ACCEPT_LEN || memcmp(h->value, r->accept, WS_ACCEPT_LEN) != 0) {
    show(shown, sizeof shown, h->value, h->value_len, SHOW_MAX);
    return response_fail(r, "Sec-WebSocket-Accept is \"%s\", expected \"%s\"", shown,
                         r->accept);
  }

  h = single(r, "sec-websocket-protocol", &dup);
  if (dup) return response_fail(r, "duplicate Sec-WebSocket-Protocol header");
  if (h) {
    for (size_t i = 0; i < r->noffered && !r->protocol.ptr; i++)
      if (r->offered[i].len == h->value_len &&
          memcmp(r->offered[i].ptr, h->value, h->value_len) == 0) {
        r->protocol.ptr = h->value;
        r->protocol.len = h->value_len;
      }
    if (!r->protocol.ptr) {
      show(shown, sizeof shown, h->value, h->value_len, SHOW_MAX);
      return response_fail(r, "server selected subprotocol \"%s\", which was not offered",
                           shown);
    }
  }

  pos = 0;
  const ws_header *first = ws_response_next(r, "sec-websocket-extensions", &pos);
  r->nextensions = first ? 1 : 0;
  while (ws_response_next(r, "sec-websocket-extensions", &pos)) r->nextensions++;
  if (first && !r->extensions_offered) {
    show(shown, sizeof shown, first->value, first->value_len, SHOW_MAX);
    return response_fail(r, "server selected extensions \"%s\", but none were offered", shown);
  }
  return WS_HS_DONE;
}

/* Parses the complete head buf[0..end). */
static int parse_head(ws_response *r, const char *buf, size_t end) {
  size_t pos = 0, n;
  const char *l;
  if (!next_line(buf, end, &pos, &l, &n)) return response_fail(r, "bare CR in the status line");
  if (!parse_status_line(l, n, &r->minor_version, &r->status, &r->reason)) {
    char shown[SHOW_MAX * 4 + 8];
    show(shown, sizeof shown, l, n, SHOW_MAX);
    return response_fail(r, "malformed status line \"%s\"", shown);
  }
  if (r->status != 101 && r->status < 200)
    return response_fail(r, "unexpected interim response HTTP %d", r->status);
  for (;;) {
    if (!next_line(buf, end, &pos, &l, &n))
      return response_fail(r, "bare CR in response headers");
    if (n == 0) break;
    if (parse_header_line(r, l, n) == WS_HS_ERROR) return WS_HS_ERROR;
  }
  return validate(r);
}

int ws_response_parse(ws_response *r, const char *buf, size_t len, size_t *header_len) {
  if (r->result == WS_HS_DONE) *header_len = r->header_len;
  if (r->result != WS_HS_NEED_MORE) return r->result;
  static const char http[] = "HTTP/";
  for (size_t i = r->scanned; i < len && i < 5; i++)
    if (buf[i] != http[i]) {
      if (buf[0] == 0x16) return response_fail(r, "server answered with TLS (use wss://)");
      char shown[SHOW_MAX * 4 + 8];
      show(shown, sizeof shown, buf, i + 1, 8); /* up to the first wrong byte: the message
                                                   does not depend on how bytes arrived */
      return response_fail(r, "not an HTTP response (starts with \"%s\")", shown);
    }
  /* scan_state: 0 inside a line, 1 CR inside a line, 2 at a line start, 3 CR at a line start */
  size_t i = r->scanned;
  unsigned st = r->scan_state;
  for (; i < len; i++) {
    char c = buf[i];
    if (c == '\n') {
      if (st >= 2) {
        r->header_len = i + 1;
        break;
      }
      st = 2;
      if (++r->lines == 1) {
        /* the status line is complete: record the status early for error reports */
        size_t p = 0, n;
        const char *l;
        int minor, status;
        ws_str reason;
        if (next_line(buf, i + 1, &p, &l, &n) &&
            parse_status_line(l, n, &minor, &status, &reason))
          r->status = status;
      } else if (r->lines > WS_HS_MAX_HEADERS + 1) {
        return response_fail(r, "more than %d response header lines", WS_HS_MAX_HEADERS);
      }
    } else if (c == '\r') {
      st = st >= 2 ? 3 : 1;
    } else {
      st = 0;
    }
    if (i + 1 >= WS_HS_MAX_BYTES)
      return response_fail(r, "response head exceeds %d bytes", WS_HS_MAX_BYTES);
  }
  if (!r->header_len) {
    r->scanned = len;
    r->scan_state = st;
    return WS_HS_NEED_MORE;
  }
  r->scanned = r->header_len;
  int rc = parse_head(r, buf, r->header_len);
  if (rc == WS_HS_DONE) {
    r->result = WS_HS_DONE;
    *header_len = r->header_len;
  }
  return rc;
}
