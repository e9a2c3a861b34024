/* net/tls.h — the TLS client engine for wss:// (wolfSSL), with no socket of its own.
 *
 * The connection layer owns the socket and moves bytes; this engine only transforms them:
 * ciphertext received goes in with tls_feed_ciphertext, ciphertext to send comes out through
 * tls_pending_ciphertext / tls_consume_ciphertext, plaintext goes through tls_write / tls_read.
 * wolfSSL sees memory-buffer I/O callbacks, so no call ever blocks or touches a file
 * descriptor. docs/tls.md has the driving loop and the decisions.
 *
 * Contexts (tls_ctx): one per configuration (CA file, client cert/key, insecure), cached and
 * reference counted, so every connection with the same options shares one WOLFSSL_CTX.
 * tls_ctx_get/tls_ctx_release take a mutex and may be called from any thread; creating a
 * context reads the CA bundle from disk (a few ms for Debian's bundle), once per
 * configuration. A tls_conn belongs to one thread at a time (the net thread).
 *
 * Verification is on by default: chain to the CA file, validity dates, and the server name
 * (DNS name against SAN/CN with wildcards, IP literal against IP SANs). insecure disables all
 * of it; the caller logs that. */
#ifndef WISP_NET_TLS_H
#define WISP_NET_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#define TLS_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Results of tls_handshake / tls_read / tls_write. tls_read returns n > 0 for data. */
enum {
  TLS_DONE = 0,     /* handshake complete; tls_write: everything queued */
  TLS_WANT_IO = -1, /* needs more ciphertext from the peer (flush pending output first) */
  TLS_CLOSED = -2,  /* tls_read: the peer sent close_notify; no more data will come */
  TLS_ERROR = -3,   /* the connection is dead: see tls_error_* */
};

/* What went wrong, for WSE_FAIL's kind and for tests. */
typedef enum tls_error_kind {
  TLS_E_NONE = 0,
  TLS_E_UNKNOWN_ISSUER,  /* chain does not lead to a trusted CA (self-signed, untrusted CA) */
  TLS_E_EXPIRED,         /* a certificate's notAfter has passed */
  TLS_E_NOT_YET_VALID,   /* a certificate's notBefore is in the future */
  TLS_E_NAME_MISMATCH,   /* server name not in the certificate */
  TLS_E_VERIFY,          /* any other certificate problem (signature, key usage, ...) */
  TLS_E_ALERT,           /* the peer sent a fatal alert */
  TLS_E_PROTOCOL,        /* malformed or unexpected TLS data, no shared version/cipher */
  TLS_E_IO,              /* the transport ended (EOF) before close_notify */
  TLS_E_USAGE,           /* the engine was called out of order (a caller bug) */
} tls_error_kind;

typedef struct tls_config {
  const char *ca_file;   /* PEM bundle; NULL or "" = TLS_DEFAULT_CA_FILE; unused if insecure */
  const char *cert_file; /* client certificate chain (PEM) for mTLS, or NULL */
  const char *key_file;  /* its private key (PEM), or NULL; required with cert_file */
  bool insecure;         /* no verification at all */
} tls_config;

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Returns the shared context for cfg (a new reference), creating it when no context with the
 * same options exists or when one of its files changed on disk since it was loaded (rotated
 * certificates take effect for new connections). NULL with a message in err on failure
 * (unreadable CA file, bad certificate or key, key not matching the certificate). */
tls_ctx *tls_ctx_get(const tls_config *cfg, char *err, size_t errlen);
/* Drops a reference. Up to a few unused contexts stay cached for reuse. */
void tls_ctx_release(tls_ctx *ctx);
/* Frees every cached context that has no reference left (process shutdown, tests). */
void tls_ctx_cache_flush(void);

/* The cipher suite order this process offers: AES-GCM first when the CPU has AES-NI and the
 * linked wolfSSL was built to use it, ChaCha20-Poly1305 first otherwise. For logs. */
const char *tls_cipher_preference(void);
/* The full suite list handed to wolfSSL_CTX_set_cipher_list. */
const char *tls_cipher_list(void);

/* A client connection on ctx (which it retains). server_name is the name to verify and to
 * send as SNI (not sent for an IP literal, which is checked against IP SANs; brackets and one
 * trailing dot are ignored); it may be NULL only when ctx is insecure. alpn is a
 * comma-separated protocol list to offer (e.g. "http/1.1") or NULL. NULL with a message in
 * err on failure. Nothing is sent until the first tls_handshake. */
tls_conn *tls_conn_new(tls_ctx *ctx, const char *server_name, const char *alpn, char *err,
                       size_t errlen);
void tls_conn_free(tls_conn *c);

/* Bytes received from the socket (copied). */
void tls_feed_ciphertext(tls_conn *c, const void *data, size_t len);
/* The socket reached EOF: once the fed bytes are used up, the engine reports TLS_CLOSED if
 * close_notify came, TLS_ERROR (TLS_E_IO, retryable) otherwise. */
void tls_feed_eof(tls_conn *c);

/* Ciphertext waiting to be written to the socket: true with a contiguous piece when there is
 * some. The bytes at *ptr stay valid and unchanged, whatever else is called meanwhile, until
 * tls_consume_ciphertext covers them or the connection is freed: an asynchronous send may
 * point straight at them. */
bool tls_pending_ciphertext(tls_conn *c, const void **ptr, size_t *len);
/* The same for a gathered write: fills up to max iovecs, returns how many. */
int tls_pending_iov(tls_conn *c, struct iovec *iov, int max);
/* Total ciphertext bytes waiting (for write-queue accounting). */
size_t tls_pending_bytes(const tls_conn *c);
/* n bytes (from the front) were written to the socket. */
void tls_consume_ciphertext(tls_conn *c, size_t n);

/* Drives the handshake: TLS_DONE, TLS_WANT_IO or TLS_ERROR. Call it after tls_conn_new and
 * after each feed until TLS_DONE; every call may queue ciphertext, so flush afterwards (also
 * after TLS_DONE and TLS_ERROR: the last flight or an alert). */
int tls_handshake(tls_conn *c);
/* Encrypts len bytes into the pending output: TLS_DONE or TLS_ERROR. Handshake first. */
int tls_write(tls_conn *c, const void *data, size_t len);
/* Decrypts into buf: n > 0 bytes, TLS_WANT_IO (feed more), TLS_CLOSED or TLS_ERROR. Call it
 * until TLS_WANT_IO after each feed: a feed can complete several records. May queue
 * ciphertext (TLS 1.3 key update), so flush afterwards. cap == 0 returns 0. */
long tls_read(tls_conn *c, void *buf, size_t cap);
/* Queues close_notify (once; later calls do nothing). Flush, then close the socket: the
 * engine does not wait for the peer's close_notify. */
void tls_close(tls_conn *c);

/* After TLS_ERROR: what failed, in words that name the certificate, the name or the alert. */
const char *tls_error_message(const tls_conn *c);
tls_error_kind tls_error_kind_of(const tls_conn *c);
/* False for verification failures and for alerts or protocol mismatches that would repeat
 * on the next attempt; true for transport failures (EOF mid-handshake, corrupted records). */
bool tls_error_retryable(const tls_conn *c);
const char *tls_error_kind_name(tls_error_kind k);

/* After the handshake: "TLSv1.3", the suite name, the ALPN protocol (NULL if none). */
const char *tls_conn_version(tls_conn *c);
const char *tls_conn_cipher(tls_conn *c);
const char *tls_conn_alpn(tls_conn *c);
bool tls_conn_insecure(const tls_conn *c);

#endif
