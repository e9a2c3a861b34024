/* net/ws_handshake.h — the client side of the RFC 6455 §4 opening handshake, without sockets:
 * validation of user-supplied headers and subprotocols, the HTTP/1.1 upgrade request, and an
 * incremental parser/validator of the server's response (picohttpparser style: the caller
 * keeps the received bytes in one buffer and passes all of them on every call; the result
 * points into that buffer). */
#ifndef WISP_NET_WS_HANDSHAKE_H
#define WISP_NET_WS_HANDSHAKE_H
#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"
#include "net/url.h"

#define WS_KEY_LEN 24            /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28         /* base64 of a SHA-1 digest */
#define WS_HS_MAX_BYTES 16384    /* status line + headers + blank line */
#define WS_HS_MAX_HEADERS 100    /* header lines after the status line */
#define WS_HS_ERR_MAX 256

typedef struct ws_str {
  const char *ptr;
  size_t len;
} ws_str;

typedef struct ws_header {
  const char *name;
  size_t name_len;
  const char *value; /* leading and trailing whitespace removed */
  size_t value_len;
} ws_header;

/* ---- user input ------------------------------------------------------------------------ */

/* A header the user wants sent. 0 if acceptable; else -1 and a message in err naming the
 * header. Names must be RFC 7230 tokens; values must not contain CR, LF, NUL or other control
 * characters except HTAB. Host, Upgrade, Connection and Sec-WebSocket-* (any case) are
 * reserved to the client, and so are Content-Length and Transfer-Encoding (the upgrade
 * request has no body; a server believing otherwise would eat the first frames). */
int ws_check_header(const char *name, size_t name_len, const char *value, size_t value_len,
                    char *err, size_t errsz);
/* Offered subprotocols: non-empty RFC 6455 tokens (RFC 2616 token), no duplicates. */
int ws_check_protocols(const ws_str *protocols, size_t n, char *err, size_t errsz);

/* ---- request --------------------------------------------------------------------------- */

/* A fresh Sec-WebSocket-Key: base64 of 16 bytes from getrandom(2), NUL-terminated.
 * Returns 0, or -1 with errno set. */
int ws_handshake_key(char key[WS_KEY_LEN + 1]);
/* base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), NUL-terminated; SHA-1 is
 * wolfSSL's wc_ShaHash. Returns 0, or -1 if wolfCrypt fails. */
int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char key[WS_KEY_LEN]);

typedef struct ws_request {
  const url_parts *url;      /* Host from url->authority, request target from url->target */
  const ws_str *protocols;   /* Sec-WebSocket-Protocol, in order of preference; may be NULL */
  size_t nprotocols;
  const char *extensions;    /* Sec-WebSocket-Extensions offer (e.g. "permessage-deflate;
                                client_max_window_bits"), NULL for none */
  const ws_header *headers;  /* user headers, sent after ours in this order */
  size_t nheaders;
} ws_request;

/* Appends the upgrade request to out. Re-checks headers, protocols and the extension offer
 * with the rules above: returns 0, or -1 with a message in err and out unchanged. */
int ws_build_request(wbuf *out, const ws_request *req, const char key[WS_KEY_LEN], char *err,
                     size_t errsz);

/* ---- response -------------------------------------------------------------------------- */

enum { WS_HS_NEED_MORE = 0, WS_HS_DONE = 1, WS_HS_ERROR = -1 };

typedef struct ws_response {
  /* what the response is checked against (ws_response_init) */
  char accept[WS_ACCEPT_LEN + 1];
  const ws_str *offered;
  size_t noffered;
  bool extensions_offered;
  /* incremental scan */
  int result;          /* WS_HS_NEED_MORE until the parse is over, then sticky */
  size_t scanned;      /* bytes of the buffer already looked at */
  size_t lines;        /* complete lines seen */
  size_t header_len;   /* WS_HS_DONE: bytes of the handshake; frames start after them */
  unsigned scan_state;
  /* the response, pointing into the caller's buffer */
  int status;          /* set as soon as the status line is complete, even on error */
  int minor_version;   /* HTTP/1.x */
  ws_str reason;       /* reason phrase */
  ws_header headers[WS_HS_MAX_HEADERS];
  size_t nheaders;
  ws_str location;     /* Location of a 3xx response; ptr NULL if none */
  ws_str protocol;     /* the subprotocol the server chose; ptr NULL if none */
  size_t nextensions;  /* Sec-WebSocket-Extensions lines; iterate with ws_response_next */
  char error[WS_HS_ERR_MAX];
} ws_response;

/* key: the Sec-WebSocket-Key sent; offered: the subprotocols sent (kept by pointer until the
 * parse is over); extensions_offered: whether Sec-WebSocket-Extensions was sent. */
void ws_response_init(ws_response *r, const char key[WS_KEY_LEN], const ws_str *offered,
                      size_t noffered, bool extensions_offered);

/* buf[0..len) is everything received so far (earlier bytes unchanged). Returns
 * WS_HS_NEED_MORE, WS_HS_ERROR (r->error says why; r->status and r->location are set when
 * known), or WS_HS_DONE with *header_len = bytes of the response head: anything after them
 * is WebSocket frames. The 101 response is valid when Upgrade is "websocket", Connection
 * lists "upgrade", Sec-WebSocket-Accept matches, the subprotocol (if any) is one offered and
 * extensions come only when offered. Results are sticky. */
int ws_response_parse(ws_response *r, const char *buf, size_t len, size_t *header_len);

/* Iterates the headers named name (ASCII case-insensitive): start with *pos = 0; returns
 * NULL after the last. */
const ws_header *ws_response_next(const ws_response *r, const char *name, size_t *pos);

#endif
