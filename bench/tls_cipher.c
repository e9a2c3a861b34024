/* bench/tls_cipher.c — wolfSSL speed as the TLS engine sees it: the raw AEADs (wolfCrypt,
 * 16 KiB blocks, like `openssl speed -bytes 16384`), bulk data through net/tls.c against an
 * in-process wolfSSL server for each TLS 1.3 suite, a full handshake, loading the system CA
 * bundle, and the memory an idle connection holds. Built and run by bench/tls_cipher.sh,
 * once against Debian's libwolfssl and once against the AES-NI build.
 *
 * Usage: tls_cipher CERTDIR [MiB]   (certificates from tests/certs/gen.sh) */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/buf.h"
#include "net/tls.h"

#define BLOCK 16384
#define FEED 65536

static const char *g_dir;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *path(const char *f) {
  static char b[4][512];
  static int i;
  char *p = b[i++ % 4];
  snprintf(p, sizeof b[0], "%s/%s", g_dir, f);
  return p;
}

/* ---- raw AEADs ------------------------------------------------------------------------ */

static void raw_aead(void) {
  static unsigned char in[BLOCK], out[BLOCK];
  unsigned char key[32] = {1}, iv[12] = {2}, tag[16], aad[13] = {3};
  memset(in, 0x5a, sizeof in);
  Aes aes;
  wc_AesInit(&aes, NULL, INVALID_DEVID);
  wc_AesGcmSetKey(&aes, key, 16);
  double t0 = now(), t;
  long n = 0;
  do {
    wc_AesGcmEncrypt(&aes, out, in, BLOCK, iv, sizeof iv, tag, sizeof tag, aad, sizeof aad);
    n++;
  } while ((t = now() - t0) < 1.5);
  printf("  wolfCrypt AES-128-GCM encrypt       %8.0f MB/s\n", n * (double)BLOCK / t / 1e6);
  t0 = now();
  n = 0;
  wc_AesGcmEncrypt(&aes, out, in, BLOCK, iv, sizeof iv, tag, sizeof tag, aad, sizeof aad);
  do {
    if (wc_AesGcmDecrypt(&aes, in, out, BLOCK, iv, sizeof iv, tag, sizeof tag, aad, sizeof aad))
      { puts("decrypt failed"); exit(1); }
    n++;
  } while ((t = now() - t0) < 1.5);
  printf("  wolfCrypt AES-128-GCM decrypt       %8.0f MB/s\n", n * (double)BLOCK / t / 1e6);
  wc_AesFree(&aes);

  t0 = now();
  n = 0;
  do {
    wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof aad, in, BLOCK, out, tag);
    n++;
  } while ((t = now() - t0) < 1.5);
  printf("  wolfCrypt ChaCha20-Poly1305 encrypt %8.0f MB/s\n", n * (double)BLOCK / t / 1e6);
  t0 = now();
  n = 0;
  do {
    if (wc_ChaCha20Poly1305_Decrypt(key, iv, aad, sizeof aad, out, BLOCK, tag, in))
      { puts("decrypt failed"); exit(1); }
    n++;
  } while ((t = now() - t0) < 1.5);
  printf("  wolfCrypt ChaCha20-Poly1305 decrypt %8.0f MB/s\n", n * (double)BLOCK / t / 1e6);
}

/* ---- an in-process server over memory --------------------------------------------------- */

typedef struct srv {
  WOLFSSL_CTX *ctx;
  WOLFSSL *ssl;
  wbuf in, out;
  size_t in_off;
} srv;

static int s_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  srv *s = arg;
  size_t avail = s->in.len - s->in_off;
  if (!avail) return WOLFSSL_CBIO_ERR_WANT_READ;
  size_t n = (size_t)sz < avail ? (size_t)sz : avail;
  memcpy(buf, s->in.data + s->in_off, n);
  s->in_off += n;
  if (s->in_off == s->in.len) { s->in_off = 0; wbuf_reset(&s->in); }
  return (int)n;
}

static int s_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  wbuf_append(&((srv *)arg)->out, buf, (size_t)sz);
  return sz;
}

static srv *srv_new(const char *suite) {
  srv *s = calloc(1, sizeof *s);
  s->ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
  if (wolfSSL_CTX_use_certificate_chain_file(s->ctx, path("server.pem")) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_use_PrivateKey_file(s->ctx, path("server.key"), WOLFSSL_FILETYPE_PEM) !=
          WOLFSSL_SUCCESS ||
      (suite && wolfSSL_CTX_set_cipher_list(s->ctx, suite) != WOLFSSL_SUCCESS)) {
    fprintf(stderr, "server setup failed\n");
    exit(1);
  }
  wolfSSL_SetIORecv(s->ctx, s_recv);
  wolfSSL_SetIOSend(s->ctx, s_send);
  s->ssl = wolfSSL_new(s->ctx);
  wolfSSL_SetIOReadCtx(s->ssl, s);
  wolfSSL_SetIOWriteCtx(s->ssl, s);
  return s;
}

static void srv_free(srv *s) {
  wolfSSL_free(s->ssl);
  wolfSSL_CTX_free(s->ctx);
  wbuf_free(&s->in);
  wbuf_free(&s->out);
  free(s);
}

static void shuttle(tls_conn *c, srv *s) {
  const void *p;
  size_t n;
  while (tls_pending_ciphertext(c, &p, &n)) {
    wbuf_append(&s->in, p, n);
    tls_consume_ciphertext(c, n);
  }
  if (s->out.len) {
    tls_feed_ciphertext(c, s->out.data, s->out.len);
    wbuf_reset(&s->out);
  }
}

static tls_conn *connect_pair(tls_ctx *x, srv *s) {
  char err[256];
  tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  if (!c) { fprintf(stderr, "%s\n", err); exit(1); }
  int cr = TLS_WANT_IO, sdone = 0;
  for (int i = 0; i < 100 && (cr != TLS_DONE || !sdone); i++) {
    if (cr != TLS_DONE) cr = tls_handshake(c);
    if (cr == TLS_ERROR) { fprintf(stderr, "%s\n", tls_error_message(c)); exit(1); }
    if (!sdone && wolfSSL_accept(s->ssl) == WOLFSSL_SUCCESS) sdone = 1;
    shuttle(c, s);
  }
  if (cr != TLS_DONE || !sdone) { fprintf(stderr, "handshake did not finish\n"); exit(1); }
  return c;
}

static void bulk(tls_ctx *x, const char *suite, size_t mib) {
  srv *s = srv_new(suite);
  tls_conn *c = connect_pair(x, s);
  static char data[BLOCK], rbuf[BLOCK];
  memset(data, 0x42, sizeof data);
  size_t total = mib << 20;

  /* client encrypts (tls_write) and the ciphertext is handed out and dropped */
  double t0 = now();
  for (size_t done = 0; done < total; done += BLOCK) {
    tls_write(c, data, BLOCK);
    const void *p;
    size_t n;
    while (tls_pending_ciphertext(c, &p, &n)) tls_consume_ciphertext(c, n);
  }
  double enc = now() - t0;

  /* server encrypts 16 MiB batches untimed; client decrypts (feed + tls_read) timed */
  double dec = 0;
  for (size_t done = 0; done < total;) {
    size_t batch = total - done < (16u << 20) ? total - done : (16u << 20);
    for (size_t k = 0; k < batch; k += BLOCK) wolfSSL_write(s->ssl, data, BLOCK);
    /* fed as a socket would deliver it: 64 KiB reads, each followed by tls_read calls */
    t0 = now();
    long r;
    size_t got = 0;
    for (size_t off = 0; off < s->out.len; off += FEED) {
      size_t k = s->out.len - off < FEED ? s->out.len - off : FEED;
      tls_feed_ciphertext(c, s->out.data + off, k);
      while ((r = tls_read(c, rbuf, sizeof rbuf)) > 0) got += (size_t)r;
    }
    dec += now() - t0;
    wbuf_reset(&s->out);
    if (got != batch) { fprintf(stderr, "short read %zu/%zu\n", got, batch); exit(1); }
    done += batch;
  }
  printf("  engine %-30s encrypt %6.0f MB/s  decrypt %6.0f MB/s  (%s)\n", suite,
         (double)total / enc / 1e6, (double)total / dec / 1e6, tls_conn_cipher(c));
  tls_conn_free(c);
  srv_free(s);
}

static void handshakes(tls_ctx *x) {
  int n = 200;
  double t0 = now();
  for (int i = 0; i < n; i++) {
    srv *s = srv_new(NULL);
    tls_conn *c = connect_pair(x, s);
    tls_conn_free(c);
    srv_free(s);
  }
  printf("  full TLS 1.3 handshake (client + server, ECDSA P-256, X25519): %.2f ms\n",
         (now() - t0) * 1000 / n);

  /* memory held by an idle client connection after its handshake */
  enum { N = 200 };
  static tls_conn *cs[N];
  static srv *ss[N];
  /* the handshakes above have warmed wolfSSL's process-wide caches (FP_ECC tables) */
  struct mallinfo2 m0 = mallinfo2();
  for (int i = 0; i < N; i++) {
    ss[i] = srv_new(NULL);
    cs[i] = connect_pair(x, ss[i]);
    srv_free(ss[i]);
  }
  struct mallinfo2 m1 = mallinfo2();
  for (int i = 0; i < N; i++) tls_conn_free(cs[i]);
  printf("  heap held by an idle client connection after its handshake: %.1f KiB\n",
         (double)(m1.uordblks - m0.uordblks) / N / 1024);
}

static void ca_bundle(void) {
  if (!fopen(TLS_DEFAULT_CA_FILE, "r")) {
    printf("  %s missing: CA bundle load not measured\n", TLS_DEFAULT_CA_FILE);
    return;
  }
  int n = 10;
  double t0 = now();
  for (int i = 0; i < n; i++) {
    tls_config cfg = {0};
    char err[256];
    tls_ctx *x = tls_ctx_get(&cfg, err, sizeof err);
    if (!x) { printf("  CA bundle: %s\n", err); return; }
    tls_ctx_release(x);
    tls_ctx_cache_flush();
  }
  printf("  context with Debian's CA bundle (%s): %.1f ms to create\n", TLS_DEFAULT_CA_FILE,
         (now() - t0) * 1000 / n);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s CERTDIR [MiB]\n", argv[0]); return 2; }
  g_dir = argv[1];
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 256;
#ifdef WOLFSSL_AESNI
  const char *build = "built with AES-NI/intelasm";
#else
  const char *build = "built without AES-NI";
#endif
  printf("wolfSSL %s, %s; engine preference: %s\n", wolfSSL_lib_version(), build,
         tls_cipher_preference());
  wolfSSL_Init();
  raw_aead();
  tls_config cfg = {.ca_file = path("ca.pem")};
  char err[256];
  tls_ctx *x = tls_ctx_get(&cfg, err, sizeof err);
  if (!x) { fprintf(stderr, "%s\n", err); return 1; }
  bulk(x, "TLS13-AES128-GCM-SHA256", mib);
  bulk(x, "TLS13-AES256-GCM-SHA384", mib);
  bulk(x, "TLS13-CHACHA20-POLY1305-SHA256", mib);
  handshakes(x);
  tls_ctx_release(x);
  ca_bundle();
  tls_ctx_cache_flush();
  return 0;
}
