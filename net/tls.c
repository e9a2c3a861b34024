/* net/tls.c — the socket-free TLS client engine over wolfSSL (see net/tls.h, docs/tls.md).
 *
 * I/O: wolfSSL's recv/send callbacks read from `in` (ciphertext fed by the caller) and append
 * to a queue of output chunks. Chunks are separately allocated and never moved, so the bytes
 * tls_pending_ciphertext hands out stay put while the caller's send is in flight; only the
 * free space at the tail of the last chunk is written to later. Drained memory is freed so
 * that an idle connection holds no buffer of ours.
 *
 * Verification: wolfSSL checks the chain, the dates and the name (wolfSSL_check_domain_name,
 * for IP literals too: see canonical_ip). The verify callback only records
 * the first failing certificate (its names and dates) so that the error message can say what
 * failed; the decision stays wolfSSL's.
 *
 * Context cache: a list under a mutex, keyed by the configuration; each entry remembers the
 * identity (device, inode, size, mtime) of its files and is replaced when one changes. */
#include "net/tls.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/pem.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include "core/buf.h"
#include "net/quote.h"

#define CTX_IDLE_MAX 4        /* unreferenced contexts kept for reuse */
#define OUT_CHUNK 16896       /* one full TLS record (16 KiB + overhead) fits */
#define NAME_MAX_LEN 253      /* longest DNS name */
#define DETAIL 256

/* ---- cipher preference ---------------------------------------------------------------- */

/* AEAD suites with forward secrecy only. TLS 1.3 suites first (wolfSSL takes them from the
 * same list), then TLS 1.2 ECDHE, then DHE for old servers. */
#define SUITES_AES_TLS13 "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
#define SUITES_CHACHA_TLS13 "TLS13-CHACHA20-POLY1305-SHA256:"
#define SUITES_AES_TLS12 \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
#define SUITES_CHACHA_TLS12 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
#define SUITES_DHE_AES "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
#define SUITES_DHE_CHACHA "DHE-RSA-CHACHA20-POLY1305"

static const char LIST_AES_FIRST[] = SUITES_AES_TLS13 SUITES_CHACHA_TLS13 SUITES_AES_TLS12
    SUITES_CHACHA_TLS12 SUITES_DHE_AES ":" SUITES_DHE_CHACHA;
static const char LIST_CHACHA_FIRST[] = SUITES_CHACHA_TLS13 SUITES_AES_TLS13
    SUITES_CHACHA_TLS12 SUITES_AES_TLS12 SUITES_DHE_CHACHA ":" SUITES_DHE_AES;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_init_ok;
static const char *g_list = LIST_CHACHA_FIRST;
static const char *g_pref = "chacha20-poly1305 first";

static bool cpu_has_aesni(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & (1u << 25)) && (c & (1u << 1)); /* AES-NI and PCLMULQDQ (GHASH) */
#else
  return false;
#endif
}

static void global_init(void) {
  g_init_ok = wolfSSL_Init() == WOLFSSL_SUCCESS;
  bool cpu = cpu_has_aesni();
#ifdef WOLFSSL_AESNI
  bool lib = true;
#else
  bool lib = false; /* Debian's build: AES-GCM in portable C, slower than ChaCha20 */
#endif
  if (cpu && lib) {
    g_list = LIST_AES_FIRST;
    g_pref = "aes-gcm first (AES-NI)";
  } else if (cpu) {
    g_pref = "chacha20-poly1305 first (CPU has AES-NI, wolfSSL built without it)";
  } else {
    g_pref = "chacha20-poly1305 first (no AES-NI)";
  }
}

const char *tls_cipher_preference(void) {
  pthread_once(&g_once, global_init);
  return g_pref;
}

const char *tls_cipher_list(void) {
  pthread_once(&g_once, global_init);
  return g_list;
}

/* ---- contexts ------------------------------------------------------------------------- */

typedef struct file_id {
  bool present;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} file_id;

struct tls_ctx {
  WOLFSSL_CTX *w;
  char *ca_file, *cert_file, *key_file; /* ca_file NULL when insecure */
  bool insecure;
  file_id ids[3];
  int refs;          /* under g_lock */
  bool cached;       /* still findable in the cache (not superseded or evicted) */
  uint64_t last_use; /* LRU among idle entries */
  tls_ctx *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static tls_ctx *g_cache;
static uint64_t g_use_clock;

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static bool streq_null(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

static char *dup_or_null(const char *s) {
  if (!s || !*s) return NULL;
  char *d = strdup(s);
  if (!d) { fputs("wisp: out of memory in tls\n", stderr); abort(); }
  return d;
}

static file_id stat_id(const char *path) {
  file_id id = {0};
  struct stat st;
  if (path && stat(path, &st) == 0) {
    id.present = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime = st.st_mtim;
  }
  return id;
}

static bool same_id(file_id a, file_id b) {
  return a.present == b.present && a.dev == b.dev && a.ino == b.ino && a.size == b.size &&
         a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec;
}

static bool files_unchanged(const tls_ctx *x) {
  const char *paths[3] = {x->ca_file, x->cert_file, x->key_file};
  for (int i = 0; i < 3; i++)
    if (paths[i] && !same_id(x->ids[i], stat_id(paths[i]))) return false;
  return true;
}

static void ctx_destroy(tls_ctx *x) {
  if (!x) return;
  if (x->w) wolfSSL_CTX_free(x->w);
  free(x->ca_file);
  free(x->cert_file);
  free(x->key_file);
  free(x);
}

/* A readable file, or a message saying why not. */
static bool check_file(const char *what, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    errf(err, errlen, "tls: cannot read %s %s: %s", what, path, strerror(errno));
    return false;
  }
  fclose(f);
  return true;
}

/* ": reason" for a failed load, or "" when wolfSSL gave only WOLFSSL_FAILURE. */
static const char *load_reason(int r) {
  static __thread char buf[160];
  const char *why = r < 0 ? wolfSSL_ERR_reason_error_string((unsigned long)r) : NULL;
  if (!why) return "";
  snprintf(buf, sizeof buf, ": %s", why);
  return buf;
}

/* wolfSSL 5.5.4's check_private_key compares RSA moduli but accepts any EC key for an EC
 * certificate, so the pair is also proven by a signature: signed with the key, verified with
 * the certificate's public key. Key types EVP cannot sign with are left to wolfSSL's check. */
static bool key_matches_cert(const char *cert_file, const char *key_file) {
  bool ok = true;
  WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_file(cert_file, WOLFSSL_FILETYPE_PEM);
  WOLFSSL_EVP_PKEY *pub = x ? wolfSSL_X509_get_pubkey(x) : NULL;
  WOLFSSL_BIO *bio = wolfSSL_BIO_new_file(key_file, "rb");
  WOLFSSL_EVP_PKEY *priv = bio ? wolfSSL_PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  WOLFSSL_EVP_MD_CTX *sm = wolfSSL_EVP_MD_CTX_new(), *vm = wolfSSL_EVP_MD_CTX_new();
  static const unsigned char msg[] = "wisp: does this key belong to this certificate?";
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  if (pub && priv && sm && vm &&
      wolfSSL_EVP_DigestSignInit(sm, NULL, wolfSSL_EVP_sha256(), NULL, priv) == 1 &&
      wolfSSL_EVP_DigestSignUpdate(sm, msg, sizeof msg) == 1 &&
      wolfSSL_EVP_DigestSignFinal(sm, sig, &siglen) == 1) {
    ok = wolfSSL_EVP_DigestVerifyInit(vm, NULL, wolfSSL_EVP_sha256(), NULL, pub) == 1 &&
         wolfSSL_EVP_DigestVerifyUpdate(vm, msg, sizeof msg) == 1 &&
         wolfSSL_EVP_DigestVerifyFinal(vm, sig, siglen) == 1;
  }
  wolfSSL_EVP_MD_CTX_free(sm);
  wolfSSL_EVP_MD_CTX_free(vm);
  wolfSSL_EVP_PKEY_free(priv);
  wolfSSL_EVP_PKEY_free(pub);
  if (bio) wolfSSL_BIO_free(bio);
  wolfSSL_X509_free(x);
  return ok;
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store);
static int on_cert_request(WOLFSSL *ssl, WOLFSSL_X509 **x509, WOLFSSL_EVP_PKEY **pkey);
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

static tls_ctx *ctx_create(const tls_config *cfg, char *err, size_t errlen) {
  tls_ctx *x = calloc(1, sizeof *x);
  if (!x) { errf(err, errlen, "out of memory"); return NULL; }
  x->insecure = cfg->insecure;
  if (!cfg->insecure)
    x->ca_file = dup_or_null(cfg->ca_file && *cfg->ca_file ? cfg->ca_file : TLS_DEFAULT_CA_FILE);
  x->cert_file = dup_or_null(cfg->cert_file);
  x->key_file = dup_or_null(cfg->key_file);
  if (!x->cert_file != !x->key_file) {
    errf(err, errlen, "tls: %s given without %s", x->cert_file ? "cert_file" : "key_file",
         x->cert_file ? "key_file" : "cert_file");
    goto fail;
  }
  x->ids[0] = stat_id(x->ca_file);
  x->ids[1] = stat_id(x->cert_file);
  x->ids[2] = stat_id(x->key_file);

  x->w = wolfSSL_CTX_new(wolfSSLv23_client_method());
  if (!x->w) { errf(err, errlen, "tls: cannot create a wolfSSL context"); goto fail; }
  if (wolfSSL_CTX_SetMinVersion(x->w, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_cipher_list(x->w, g_list) != WOLFSSL_SUCCESS) {
    errf(err, errlen, "tls: cannot set the protocol versions or cipher suites");
    goto fail;
  }
  /* X25519 first: the key share sent in the ClientHello, which most servers accept without
   * a HelloRetryRequest. */
  int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
                  WOLFSSL_ECC_SECP521R1};
  if (wolfSSL_CTX_set_groups(x->w, groups, (int)(sizeof groups / sizeof groups[0])) !=
      WOLFSSL_SUCCESS) {
    errf(err, errlen, "tls: cannot set the key exchange groups");
    goto fail;
  }
  wolfSSL_SetIORecv(x->w, io_recv);
  wolfSSL_SetIOSend(x->w, io_send);
  /* Only called when the server asks for a certificate and we have none: noted for the
   * error message of a server that then just hangs up (TLS 1.2 servers often do). */
  wolfSSL_CTX_set_client_cert_cb(x->w, on_cert_request);

  if (x->insecure) {
    wolfSSL_CTX_set_verify(x->w, WOLFSSL_VERIFY_NONE, NULL);
  } else {
    if (!check_file("CA file", x->ca_file, err, errlen)) goto fail;
    int r = wolfSSL_CTX_load_verify_locations(x->w, x->ca_file, NULL);
    if (r != WOLFSSL_SUCCESS) {
      errf(err, errlen, "tls: no usable CA certificate in %s (PEM expected)%s", x->ca_file,
           load_reason(r));
      goto fail;
    }
    wolfSSL_CTX_set_verify(x->w, WOLFSSL_VERIFY_PEER, verify_cb);
  }
  if (x->cert_file) {
    if (!check_file("certificate file", x->cert_file, err, errlen) ||
        !check_file("key file", x->key_file, err, errlen))
      goto fail;
    int r = wolfSSL_CTX_use_certificate_chain_file(x->w, x->cert_file);
    if (r != WOLFSSL_SUCCESS) {
      errf(err, errlen, "tls: no usable certificate in %s (PEM expected)%s", x->cert_file,
           load_reason(r));
      goto fail;
    }
    r = wolfSSL_CTX_use_PrivateKey_file(x->w, x->key_file, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
      errf(err, errlen, "tls: no usable private key in %s (unencrypted PEM expected)%s",
           x->key_file, load_reason(r));
      goto fail;
    }
    if (wolfSSL_CTX_check_private_key(x->w) != WOLFSSL_SUCCESS ||
        !key_matches_cert(x->cert_file, x->key_file)) {
      errf(err, errlen, "tls: private key %s does not match certificate %s", x->key_file,
           x->cert_file);
      goto fail;
    }
  }
  wolfSSL_ERR_clear_error();
  return x;
fail:
  wolfSSL_ERR_clear_error();
  ctx_destroy(x);
  return NULL;
}

static bool ctx_matches(const tls_ctx *x, const tls_config *cfg) {
  if (x->insecure != cfg->insecure) return false;
  if (!cfg->insecure) {
    const char *ca = cfg->ca_file && *cfg->ca_file ? cfg->ca_file : TLS_DEFAULT_CA_FILE;
    if (!streq_null(x->ca_file, ca)) return false;
  }
  const char *cert = cfg->cert_file && *cfg->cert_file ? cfg->cert_file : NULL;
  const char *key = cfg->key_file && *cfg->key_file ? cfg->key_file : NULL;
  return streq_null(x->cert_file, cert) && streq_null(x->key_file, key);
}

/* Unlinks x from the cache (g_lock held). */
static void cache_unlink(tls_ctx *x) {
  for (tls_ctx **p = &g_cache; *p; p = &(*p)->next)
    if (*p == x) { *p = x->next; break; }
  x->next = NULL;
  x->cached = false;
}

/* Finds a live entry for cfg and retains it; superseded entries are dropped (g_lock held).
 * Returns in *dead an unreferenced superseded entry for the caller to destroy unlocked. */
static tls_ctx *cache_find(const tls_config *cfg, tls_ctx **dead) {
  for (tls_ctx *x = g_cache; x; x = x->next) {
    if (!ctx_matches(x, cfg)) continue;
    if (files_unchanged(x)) {
      x->refs++;
      x->last_use = ++g_use_clock;
      return x;
    }
    cache_unlink(x);
    if (x->refs == 0) *dead = x;
    return NULL;
  }
  return NULL;
}

tls_ctx *tls_ctx_get(const tls_config *cfg, char *err, size_t errlen) {
  pthread_once(&g_once, global_init);
  if (!g_init_ok) { errf(err, errlen, "tls: wolfSSL_Init failed"); return NULL; }
  tls_config none = {0};
  if (!cfg) cfg = &none;
  tls_ctx *dead = NULL;
  pthread_mutex_lock(&g_lock);
  tls_ctx *x = cache_find(cfg, &dead);
  pthread_mutex_unlock(&g_lock);
  ctx_destroy(dead);
  if (x) return x;

  /* Built unlocked (it reads files); a concurrent builder of the same configuration may win,
   * then ours is discarded. */
  tls_ctx *fresh = ctx_create(cfg, err, errlen);
  if (!fresh) return NULL;
  dead = NULL;
  pthread_mutex_lock(&g_lock);
  x = cache_find(cfg, &dead);
  if (!x) {
    x = fresh;
    fresh = NULL;
    x->refs = 1;
    x->cached = true;
    x->last_use = ++g_use_clock;
    x->next = g_cache;
    g_cache = x;
  }
  pthread_mutex_unlock(&g_lock);
  ctx_destroy(dead);
  ctx_destroy(fresh);
  return x;
}

void tls_ctx_release(tls_ctx *x) {
  if (!x) return;
  tls_ctx *dead = NULL;
  pthread_mutex_lock(&g_lock);
  if (--x->refs == 0) {
    if (!x->cached) {
      dead = x;
    } else {
      int idle = 0;
      tls_ctx *oldest = NULL;
      for (tls_ctx *y = g_cache; y; y = y->next) {
        if (y->refs) continue;
        idle++;
        if (!oldest || y->last_use < oldest->last_use) oldest = y;
      }
      if (idle > CTX_IDLE_MAX) {
        cache_unlink(oldest);
        dead = oldest;
      }
    }
  }
  pthread_mutex_unlock(&g_lock);
  ctx_destroy(dead);
}

void tls_ctx_cache_flush(void) {
  tls_ctx *dead = NULL;
  pthread_mutex_lock(&g_lock);
  for (tls_ctx **p = &g_cache; *p;) {
    tls_ctx *x = *p;
    if (x->refs == 0) {
      *p = x->next;
      x->cached = false;
      x->next = dead;
      dead = x;
    } else {
      p = &x->next;
    }
  }
  pthread_mutex_unlock(&g_lock);
  while (dead) {
    tls_ctx *n = dead->next;
    ctx_destroy(dead);
    dead = n;
  }
}

/* ---- connections ---------------------------------------------------------------------- */

typedef struct out_chunk {
  struct out_chunk *next;
  size_t off, len, cap; /* bytes [off, len) are pending */
  char data[];
} out_chunk;

enum { ST_NEW, ST_HANDSHAKE, ST_OPEN, ST_FAILED };

/* The first certificate that failed verification, as the verify callback saw it. */
typedef struct vfail {
  int code; /* store->error: an X509_V_ERR_* or a negative wolfSSL code */
  int depth;
  char subject[DETAIL], issuer[DETAIL], not_before[40], not_after[40], names[DETAIL];
} vfail;

struct tls_conn {
  WOLFSSL *ssl;
  tls_ctx *ctx;
  wbuf in;
  size_t in_off;
  bool eof;
  unsigned char first[12]; /* the first bytes the peer sent, to recognise a non-TLS server */
  size_t first_len;
  out_chunk *head, *tail;
  size_t out_bytes;
  int state;
  bool close_sent, peer_closed;
  bool cert_requested; /* the server asked for a client certificate we do not have */
  char name[NAME_MAX_LEN + 1];
  bool name_is_ip;
  bool have_vfail;
  vfail vf;
  tls_error_kind kind;
  bool retryable;
  char msg[768];
  char alpn[64];
};

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  tls_conn *c = arg;
  size_t avail = c->in.len - c->in_off;
  if (avail == 0) return c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
  size_t n = (size_t)sz < avail ? (size_t)sz : avail;
  memcpy(buf, c->in.data + c->in_off, n);
  c->in_off += n;
  if (c->in_off == c->in.len) { /* drained: an idle connection holds no buffer of ours */
    c->in_off = 0;
    wbuf_free(&c->in);
  }
  return (int)n;
}

static void out_append(tls_conn *c, const char *p, size_t n) {
  while (n) {
    out_chunk *t = c->tail;
    if (!t || t->len == t->cap) {
      size_t cap = n > OUT_CHUNK ? n : OUT_CHUNK;
      t = malloc(sizeof *t + cap);
      if (!t) { fputs("wisp: out of memory in tls\n", stderr); abort(); }
      t->next = NULL;
      t->off = t->len = 0;
      t->cap = cap;
      if (c->tail) c->tail->next = t;
      else c->head = t;
      c->tail = t;
    }
    size_t k = t->cap - t->len < n ? t->cap - t->len : n;
    memcpy(t->data + t->len, p, k);
    t->len += k;
    p += k;
    n -= k;
    c->out_bytes += k;
  }
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  if (sz <= 0) return 0;
  out_append(arg, buf, (size_t)sz);
  return sz;
}

static int on_cert_request(WOLFSSL *ssl, WOLFSSL_X509 **x509, WOLFSSL_EVP_PKEY **pkey) {
  tls_conn *c = wolfSSL_GetIOReadCtx(ssl);
  if (c) c->cert_requested = true;
  return 0; /* no certificate: an empty Certificate message is sent */
}

static bool is_verify_kind(tls_error_kind k) {
  return k == TLS_E_UNKNOWN_ISSUER || k == TLS_E_EXPIRED || k == TLS_E_NOT_YET_VALID ||
         k == TLS_E_NAME_MISMATCH || k == TLS_E_VERIFY;
}

/* wolfSSL's negative codes, and with from_store the X509_V_ERR_* values (positive) that the
 * verify callback sees for mapped errors under OPENSSL_COMPATIBLE_DEFAULTS. */
static tls_error_kind classify_cert(int code, bool from_store) {
  if (code >= 0 && !from_store) return TLS_E_NONE;
  switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
      return TLS_E_UNKNOWN_ISSUER;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    case ASN_AFTER_DATE_E:
      return TLS_E_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case ASN_BEFORE_DATE_E:
      return TLS_E_NOT_YET_VALID;
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
      return TLS_E_NAME_MISMATCH;
    default:
      break;
  }
  /* wolfCrypt's ASN and certificate codes live in -140..-299; EXTKEYUSE, chain length and
   * signature problems are certificate failures too. */
  if ((code <= -140 && code >= -299) || code == EXTKEYUSE_AUTH_E || code == MAX_CHAIN_ERROR ||
      (from_store && code > 0))
    return TLS_E_VERIFY;
  return TLS_E_NONE;
}

static void fmt_time(WOLFSSL_ASN1_TIME *t, char *out, size_t cap) {
  struct tm tm;
  out[0] = 0;
  if (t && wolfSSL_ASN1_TIME_to_tm(t, &tm) == WOLFSSL_SUCCESS)
    strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "/CN=a/O=b" -> "CN=a, O=b", quoted: certificate names are the peer's bytes. */
static void fmt_name(WOLFSSL_X509_NAME *n, char *out, size_t cap) {
  char raw[DETAIL], plain[DETAIL];
  out[0] = 0;
  if (!n || !wolfSSL_X509_NAME_oneline(n, raw, (int)sizeof raw)) return;
  size_t o = 0;
  for (const char *p = raw[0] == '/' ? raw + 1 : raw; *p && o + 3 < sizeof plain; p++) {
    if (*p == '/') { plain[o++] = ','; plain[o++] = ' '; }
    else plain[o++] = *p;
  }
  quote_append(out, cap, plain, o, 120);
}

static void fmt_altnames(WOLFSSL_X509 *x, char *out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (char *n; (n = wolfSSL_X509_get_next_altname(x)) != NULL;) {
    unsigned char a6[16];
    char short6[INET6_ADDRSTRLEN];
    if (strchr(n, ':') && inet_pton(AF_INET6, n, a6) == 1 &&
        inet_ntop(AF_INET6, a6, short6, sizeof short6))
      n = short6; /* wolfSSL spells IPv6 SANs out in full */
    if (o) quote_append(out, cap, ", ", 2, 2);
    quote_append(out, cap, n, strlen(n), 80);
    o = strlen(out);
    if (o + 12 >= cap) {
      quote_append(out, cap, "...", 3, 3);
      return;
    }
  }
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store) {
  tls_conn *c = store ? store->userCtx : NULL;
  if (preverify || !c || c->have_vfail) return preverify;
  WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
  vfail *v = &c->vf;
  memset(v, 0, sizeof *v);
  v->code = wolfSSL_X509_STORE_CTX_get_error(store);
  v->depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
  if (x) {
    fmt_name(wolfSSL_X509_get_subject_name(x), v->subject, sizeof v->subject);
    fmt_name(wolfSSL_X509_get_issuer_name(x), v->issuer, sizeof v->issuer);
    fmt_time(wolfSSL_X509_get_notBefore(x), v->not_before, sizeof v->not_before);
    fmt_time(wolfSSL_X509_get_notAfter(x), v->not_after, sizeof v->not_after);
    fmt_altnames(x, v->names, sizeof v->names);
  }
  c->have_vfail = true;
  return preverify;
}

static const char *alert_name(int a) {
  switch (a) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown alert";
  }
}

/* Alerts that say the configuration or the credentials are wrong: a retry would fail too. */
static bool alert_retryable(int a) {
  switch (a) {
    case 40: case 42: case 43: case 44: case 45: case 46: case 47: case 48: case 49:
    case 70: case 71: case 86: case 109: case 110: case 112: case 116: case 120:
      return false;
    default:
      return true;
  }
}

static void set_error(tls_conn *c, tls_error_kind k, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(tls_conn *c, tls_error_kind k, bool retryable, const char *fmt, ...) {
  c->state = ST_FAILED;
  c->kind = k;
  c->retryable = retryable;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
}

static void verify_message(tls_conn *c, tls_error_kind k, int code) {
  const vfail *v = c->have_vfail ? &c->vf : NULL;
  const char *subj = v && v->subject[0] ? v->subject : "?";
  char where[48] = "";
  if (v && v->depth > 0) snprintf(where, sizeof where, " (certificate %d in the chain)", v->depth);
  const char *ca = c->ctx->ca_file ? c->ctx->ca_file : "?";
  switch (k) {
    case TLS_E_UNKNOWN_ISSUER:
      if (v && v->issuer[0] && strcmp(v->issuer, v->subject) == 0)
        set_error(c, k, false,
                  "certificate verify failed: unknown issuer: \"%s\" is self-signed and not "
                  "trusted (trusted CAs: %s)%s", subj, ca, where);
      else
        set_error(c, k, false,
                  "certificate verify failed: unknown issuer: \"%s\" is issued by \"%s\", "
                  "which is not a trusted CA (untrusted or private CA; trusted CAs: %s)%s",
                  subj, v && v->issuer[0] ? v->issuer : "?", ca, where);
      break;
    case TLS_E_EXPIRED:
      set_error(c, k, false,
                "certificate verify failed: certificate expired: \"%s\" was valid until %s%s",
                subj, v && v->not_after[0] ? v->not_after : "?", where);
      break;
    case TLS_E_NOT_YET_VALID:
      set_error(c, k, false,
                "certificate verify failed: certificate not yet valid: \"%s\" is valid from "
                "%s (check the system clock)%s", subj, v && v->not_before[0] ? v->not_before : "?",
                where);
      break;
    case TLS_E_NAME_MISMATCH:
      set_error(c, k, false,
                "certificate verify failed: name mismatch: %s %s not in certificate \"%s\" "
                "(names: %s)", c->name_is_ip ? "IP address" : "hostname", c->name, subj,
                v && v->names[0] ? v->names : "none");
      break;
    default: {
      int shown = v ? v->code : code;
      const char *why = shown < 0 ? wolfSSL_ERR_reason_error_string((unsigned long)shown)
                                  : wolfSSL_X509_verify_cert_error_string(shown);
      set_error(c, TLS_E_VERIFY, false, "certificate verify failed: %s (error %d) for \"%s\"%s",
                why ? why : "unknown error", shown, subj, where);
    }
  }
}

/* Turns wolfSSL's error for the failed call into kind, retryability and a message. */
static void fail_from(tls_conn *c, int err, const char *during) {
  tls_error_kind k = classify_cert(err, false);
  if (c->have_vfail) {
    tls_error_kind vk = classify_cert(c->vf.code, true);
    if (vk != TLS_E_NONE && (k == TLS_E_NONE || is_verify_kind(k))) k = vk;
  }
  if (is_verify_kind(k)) {
    verify_message(c, k, err);
  } else if (err == FATAL_ERROR) {
    WOLFSSL_ALERT_HISTORY h;
    memset(&h, 0, sizeof h);
    wolfSSL_get_alert_history(c->ssl, &h);
    int a = h.last_rx.code;
    const char *hint = "";
    if (a == 116) hint = " (the server requires a client certificate: set tls.cert_file and tls.key_file)";
    else if ((a == 40 || a == 42 || a == 46 || a == 48 || a == 49) && !c->ctx->cert_file)
      hint = " (if the server requires a client certificate, set tls.cert_file and tls.key_file)";
    else if (a == 42 || a == 46 || a == 48 || a == 51)
      hint = " (the server rejected our client certificate)";
    set_error(c, TLS_E_ALERT, alert_retryable(a), "TLS %s failed: the server sent fatal alert %s (%d)%s",
              during, alert_name(a), a, hint);
  } else if (err == SOCKET_PEER_CLOSED_E || err == SOCKET_ERROR_E) {
    if (c->state == ST_OPEN)
      set_error(c, TLS_E_IO, true,
                "TLS connection closed by the peer without close_notify (truncated)");
    else if (c->cert_requested)
      set_error(c, TLS_E_IO, false,
                "TLS %s failed: the server closed the connection after asking for a client "
                "certificate, and none is configured (set tls.cert_file and tls.key_file)",
                during);
    else
      set_error(c, TLS_E_IO, true, "TLS %s failed: connection closed by the peer", during);
  } else if (c->state != ST_OPEN && c->first_len && (c->first[0] < 20 || c->first[0] > 24)) {
    /* A TLS record starts with a content type of 20..24: this peer does not speak TLS. */
    char shown[sizeof c->first * 4 + 16] = "";
    quote_append(shown, sizeof shown, (const char *)c->first, c->first_len, sizeof c->first);
    set_error(c, TLS_E_PROTOCOL, false,
              "TLS %s failed: the server did not answer with TLS (it sent \"%s\"...): a plain "
              "HTTP or ws:// endpoint?", during, shown);
  } else {
    const char *why = wolfSSL_ERR_reason_error_string((unsigned long)err);
    bool retry = !(err == VERSION_ERROR || err == MATCH_SUITE_ERROR || err == UNSUPPORTED_SUITE ||
                   err == ECC_CURVE_ERROR || err == UNKNOWN_ALPN_PROTOCOL_NAME_E ||
                   err == EXT_MISSING || err == INVALID_PARAMETER);
    set_error(c, TLS_E_PROTOCOL, retry, "TLS %s failed: %s (wolfSSL error %d)", during,
              why ? why : "unknown error", err);
  }
  wolfSSL_ERR_clear_error();
}

static bool valid_dns_name(const char *s, size_t n) {
  if (n == 0 || n > NAME_MAX_LEN) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '.' || ch == '_'))
      return false;
  }
  return s[0] != '.' && strstr(s, "..") == NULL;
}

static void canonical_ip(const char *ip, char *out, size_t cap) {
  unsigned char a[16];
  if (inet_pton(AF_INET, ip, a) == 1) {
    snprintf(out, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
  } else if (inet_pton(AF_INET6, ip, a) == 1) {
    size_t o = 0;
    for (int i = 0; i < 8; i++)
      o += (size_t)snprintf(out + o, cap - o, "%02X%02X%s", a[2 * i], a[2 * i + 1],
                            i < 7 ? ":" : "");
  } else {
    snprintf(out, cap, "%s", ip);
  }
}

tls_conn *tls_conn_new(tls_ctx *ctx, const char *server_name, const char *alpn, char *err,
                       size_t errlen) {
  if (!ctx) { errf(err, errlen, "tls: no context"); return NULL; }
  char name[NAME_MAX_LEN + 1] = "";
  bool is_ip = false;
  if (server_name && *server_name) {
    size_t n = strlen(server_name);
    const char *s = server_name;
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') { s++; n -= 2; }
    else if (n > 1 && s[n - 1] == '.') n--;
    if (n > NAME_MAX_LEN) {
      errf(err, errlen, "tls: server name too long (%zu bytes, at most %d)", n, NAME_MAX_LEN);
      return NULL;
    }
    memcpy(name, s, n);
    name[n] = 0;
    unsigned char addr[16];
    is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
    if (!is_ip && !valid_dns_name(name, n)) {
      errf(err, errlen, "tls: invalid server name \"%s\"", server_name);
      return NULL;
    }
  } else if (!ctx->insecure) {
    errf(err, errlen, "tls: a server name is needed to verify the certificate");
    return NULL;
  }

  tls_conn *c = calloc(1, sizeof *c);
  if (!c) { errf(err, errlen, "out of memory"); return NULL; }
  memcpy(c->name, name, sizeof name);
  c->name_is_ip = is_ip;
  c->ssl = wolfSSL_new(ctx->w);
  if (!c->ssl) { errf(err, errlen, "tls: cannot create a wolfSSL session"); free(c); return NULL; }
  wolfSSL_SetIOReadCtx(c->ssl, c);
  wolfSSL_SetIOWriteCtx(c->ssl, c);
  wolfSSL_SetCertCbCtx(c->ssl, c);
  bool ok = true;
  if (name[0] && !is_ip)
    ok = wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, name, (unsigned short)strlen(name)) ==
         WOLFSSL_SUCCESS;
  if (ok && name[0] && !ctx->insecure) {
    /* An IP literal is matched as a string against the IP SANs, which wolfSSL renders as
     * dotted quads and as eight groups of four upper-case hex digits. */
    char canon[48];
    if (is_ip) canonical_ip(name, canon, sizeof canon);
    ok = wolfSSL_check_domain_name(c->ssl, is_ip ? canon : name) == WOLFSSL_SUCCESS;
  }
  if (ok && alpn && *alpn) {
    char list[256];
    size_t n = strlen(alpn);
    if (n >= sizeof list) {
      errf(err, errlen, "tls: ALPN list too long");
      wolfSSL_free(c->ssl);
      free(c);
      return NULL;
    }
    memcpy(list, alpn, n + 1);
    ok = wolfSSL_UseALPN(c->ssl, list, (unsigned)n, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) ==
         WOLFSSL_SUCCESS;
  }
  if (!ok) {
    errf(err, errlen, "tls: cannot set up SNI, name verification or ALPN for \"%s\"", name);
    wolfSSL_free(c->ssl);
    free(c);
    wolfSSL_ERR_clear_error();
    return NULL;
  }
  pthread_mutex_lock(&g_lock);
  ctx->refs++;
  pthread_mutex_unlock(&g_lock);
  c->ctx = ctx;
  c->state = ST_NEW;
  return c;
}

void tls_conn_free(tls_conn *c) {
  if (!c) return;
  wolfSSL_free(c->ssl);
  wbuf_free(&c->in);
  for (out_chunk *k = c->head, *n; k; k = n) {
    n = k->next;
    free(k);
  }
  tls_ctx_release(c->ctx);
  free(c);
}

void tls_feed_ciphertext(tls_conn *c, const void *data, size_t len) {
  if (!len) return;
  if (c->first_len < sizeof c->first) {
    size_t k = sizeof c->first - c->first_len < len ? sizeof c->first - c->first_len : len;
    memcpy(c->first + c->first_len, data, k);
    c->first_len += k;
  }
  if (c->in_off) { /* compact: what is left is at most a partial record */
    memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
  }
  wbuf_append(&c->in, data, len);
}

void tls_feed_eof(tls_conn *c) { c->eof = true; }

bool tls_pending_ciphertext(tls_conn *c, const void **ptr, size_t *len) {
  out_chunk *h = c->head;
  if (!h || h->off == h->len) { *ptr = NULL; *len = 0; return false; }
  *ptr = h->data + h->off;
  *len = h->len - h->off;
  return true;
}

int tls_pending_iov(tls_conn *c, struct iovec *iov, int max) {
  int n = 0;
  for (out_chunk *k = c->head; k && n < max; k = k->next) {
    if (k->off == k->len) continue;
    iov[n].iov_base = k->data + k->off;
    iov[n].iov_len = k->len - k->off;
    n++;
  }
  return n;
}

size_t tls_pending_bytes(const tls_conn *c) { return c->out_bytes; }

void tls_consume_ciphertext(tls_conn *c, size_t n) {
  if (n > c->out_bytes) n = c->out_bytes;
  c->out_bytes -= n;
  while (n) {
    out_chunk *h = c->head;
    size_t k = h->len - h->off < n ? h->len - h->off : n;
    h->off += k;
    n -= k;
    if (h->off == h->len) { /* drained chunks are freed: idle connections hold nothing */
      c->head = h->next;
      if (!c->head) c->tail = NULL;
      free(h);
    }
  }
}

int tls_handshake(tls_conn *c) {
  if (c->state == ST_FAILED) return TLS_ERROR;
  if (c->state == ST_OPEN) return TLS_DONE;
  c->state = ST_HANDSHAKE;
  int r = wolfSSL_connect(c->ssl);
  if (r == WOLFSSL_SUCCESS) {
    c->state = ST_OPEN;
    return TLS_DONE;
  }
  int e = wolfSSL_get_error(c->ssl, r);
  if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) return TLS_WANT_IO;
  fail_from(c, e, "handshake");
  return TLS_ERROR;
}

static bool need_open(tls_conn *c, const char *what) {
  if (c->state == ST_OPEN) return true;
  if (c->state != ST_FAILED)
    set_error(c, TLS_E_USAGE, false, "tls: %s before the handshake completed", what);
  return false;
}

int tls_write(tls_conn *c, const void *data, size_t len) {
  if (!need_open(c, "write")) return TLS_ERROR;
  if (c->close_sent) {
    set_error(c, TLS_E_USAGE, false, "tls: write after close");
    return TLS_ERROR;
  }
  const char *p = data;
  while (len) {
    int n = len > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)len;
    int r = wolfSSL_write(c->ssl, p, n);
    if (r <= 0) {
      fail_from(c, wolfSSL_get_error(c->ssl, r), "write");
      return TLS_ERROR;
    }
    p += r;
    len -= (size_t)r;
  }
  return TLS_DONE;
}

long tls_read(tls_conn *c, void *buf, size_t cap) {
  if (c->peer_closed) return TLS_CLOSED;
  if (!need_open(c, "read")) return TLS_ERROR;
  if (cap == 0) return 0;
  int r = wolfSSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r > 0) return r;
  int e = wolfSSL_get_error(c->ssl, r);
  if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) return TLS_WANT_IO;
  if (e == WOLFSSL_ERROR_ZERO_RETURN) {
    c->peer_closed = true;
    return TLS_CLOSED;
  }
  fail_from(c, e, "read");
  return TLS_ERROR;
}

void tls_close(tls_conn *c) {
  if (c->close_sent) return;
  c->close_sent = true;
  if (c->state != ST_OPEN) return;
  wolfSSL_shutdown(c->ssl); /* queues close_notify; we do not wait for the peer's */
  wolfSSL_ERR_clear_error();
}

const char *tls_error_message(const tls_conn *c) { return c->state == ST_FAILED ? c->msg : ""; }
tls_error_kind tls_error_kind_of(const tls_conn *c) {
  return c->state == ST_FAILED ? c->kind : TLS_E_NONE;
}
bool tls_error_retryable(const tls_conn *c) { return c->state == ST_FAILED && c->retryable; }

const char *tls_error_kind_name(tls_error_kind k) {
  switch (k) {
    case TLS_E_NONE: return "none";
    case TLS_E_UNKNOWN_ISSUER: return "unknown_issuer";
    case TLS_E_EXPIRED: return "expired";
    case TLS_E_NOT_YET_VALID: return "not_yet_valid";
    case TLS_E_NAME_MISMATCH: return "name_mismatch";
    case TLS_E_VERIFY: return "verify";
    case TLS_E_ALERT: return "alert";
    case TLS_E_PROTOCOL: return "protocol";
    case TLS_E_IO: return "io";
    case TLS_E_USAGE: return "usage";
  }
  return "?";
}

const char *tls_conn_version(tls_conn *c) {
  return c->state == ST_OPEN ? wolfSSL_get_version(c->ssl) : NULL;
}

const char *tls_conn_cipher(tls_conn *c) {
  return c->state == ST_OPEN ? wolfSSL_get_cipher_name(c->ssl) : NULL;
}

const char *tls_conn_alpn(tls_conn *c) {
  if (c->state != ST_OPEN) return NULL;
  char *p = NULL;
  unsigned short n = 0;
  if (wolfSSL_ALPN_GetProtocol(c->ssl, &p, &n) != WOLFSSL_SUCCESS || !p || !n) {
    wolfSSL_ERR_clear_error();
    return NULL;
  }
  if (n >= sizeof c->alpn) n = sizeof c->alpn - 1;
  memcpy(c->alpn, p, n);
  c->alpn[n] = 0;
  return c->alpn;
}

bool tls_conn_insecure(const tls_conn *c) { return c->ctx->insecure; }
