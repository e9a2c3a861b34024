/* net/url.h — WebSocket and proxy URL parsing and normalisation (RFC 3986, RFC 6455 §3).
 *
 * Accepted: ws://, wss://, and http:// / https:// as aliases of ws:// / wss://. With URL_PROXY
 * only http://[user[:password]@]host[:port][/] is accepted. The normalised form is what the
 * security policy matches and what is sent, so equivalent spellings normalise alike:
 *   - scheme and host lower-cased, http → ws, https → wss, default port (80/443) removed;
 *   - a host's trailing dot removed; IPv6 written in RFC 5952 form ([::1], not [0:0::1]);
 *   - percent-encodings of unreserved characters decoded (%41 → A), other escapes upper-cased
 *     (%2f → %2F), bytes that may not appear raw (space, non-ASCII, "<>\^`{|}[]) escaped;
 *   - dot segments resolved (RFC 3986 §5.2.4), after decoding, so /a/%2E%2E/b is /b;
 *   - an empty path becomes "/".
 * Rejected with a message: fragments (RFC 6455 §3), user info outside proxy URLs (it would be
 * silently unused), control characters, percent-encoded or non-ASCII host names (use punycode),
 * IPv6 zone ids, and host names whose last label is numeric but which are not a strict dotted
 * quad ("127.1", "0x7f.0.0.1", "2130706433"): the resolver would read them as IP addresses the
 * policy never saw. Normalisation is idempotent: parsing u->normalized gives it back. */
#ifndef WISP_NET_URL_H
#define WISP_NET_URL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_PROXY 0x1u     /* flag: parse an HTTP proxy URL */
#define URL_MAX_LEN 8192   /* longer input is rejected */
#define URL_ERR_MAX 512    /* an error buffer of this size never truncates a message */

typedef enum { URL_HOST_NAME, URL_HOST_IPV4, URL_HOST_IPV6 } url_host_kind;

typedef struct url_parts {
  const char *scheme;      /* "ws", "wss", or "http" (URL_PROXY) */
  bool tls;                /* wss */
  url_host_kind host_kind; /* NAME needs DNS; IPV4/IPV6 are numeric (use AI_NUMERICHOST) */
  const char *host;        /* for DNS and SNI: lower-case, no brackets, no trailing dot */
  uint16_t port;           /* effective port, 1-65535 */
  const char *authority;   /* host ([v6] bracketed) plus ":port" unless default: Host header */
  const char *target;      /* request target: path ["?" query], starts with '/' */
  const char *normalized;  /* scheme "://" authority target (proxy: without target); never
                              contains user info */
  const char *user;        /* URL_PROXY only: percent-decoded user name, NULL without user info */
  const char *password;    /* URL_PROXY only: percent-decoded password, NULL without ':' */
  size_t user_len, password_len;
  char *mem;               /* one allocation holding the strings above */
} url_parts;

/* Parses s[0..len). Returns 0 and fills u (free with url_free), or -1 with a message such as
 * `invalid URL "ftp://x": unsupported scheme "ftp" (use ws:// or wss://)` in err (user info
 * in the quoted URL is shown as "***"); u is then empty and need not be freed. */
int url_parse(url_parts *u, const char *s, size_t len, unsigned flags, char *err, size_t errsz);
void url_free(url_parts *u);

/* RFC 3986 §5.2.4 remove_dot_segments for a path starting with '/'. Writes the result (never
 * longer than the input) to out; returns its length. in and out must not overlap. */
size_t url_remove_dot_segments(char *out, const char *in, size_t len);

#endif
