/* tests/unit/test_tls.c — the TLS engine (net/tls.c) against a wolfSSL server in the same
 * process: memory buffers shuttled between the two, no sockets. The certificates come from
 * tests/certs/gen.sh, run into a fresh temporary directory at start (needs the openssl tool,
 * which scripts/setup.sh installs). */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "core/buf.h"
#include "net/tls.h"
#include "tests/unit/t.h"

static char g_dir[256];

static const char *cert_path(const char *name) {
  static char bufs[8][512];
  static int i;
  char *b = bufs[i++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
  return b;
}

/* ---- an in-process wolfSSL server over memory buffers ---------------------------------- */

typedef struct srv {
  WOLFSSL_CTX *ctx;
  WOLFSSL *ssl;
  wbuf in, out;
  size_t in_off;
  bool done, failed;
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

enum { V_ANY = 0, V_12 = 12, V_13 = 13 };

typedef struct srv_opts {
  const char *cert; /* base name in g_dir: "server" -> server.pem/server.key */
  int version;
  bool require_client_cert;
  const char *alpn;
  const char *ciphers; /* server cipher list, NULL = wolfSSL default */
} srv_opts;

static srv *srv_new(srv_opts o) {
  srv *s = calloc(1, sizeof *s);
  WOLFSSL_METHOD *m = o.version == V_12   ? wolfTLSv1_2_server_method()
                      : o.version == V_13 ? wolfTLSv1_3_server_method()
                                          : wolfSSLv23_server_method();
  s->ctx = wolfSSL_CTX_new(m);
  char pem[64], key[64];
  snprintf(pem, sizeof pem, "%s.pem", o.cert ? o.cert : "server");
  snprintf(key, sizeof key, "%s.key", o.cert ? o.cert : "server");
  CHECK_EQ(wolfSSL_CTX_use_certificate_chain_file(s->ctx, cert_path(pem)), WOLFSSL_SUCCESS);
  CHECK_EQ(wolfSSL_CTX_use_PrivateKey_file(s->ctx, cert_path(key), WOLFSSL_FILETYPE_PEM),
           WOLFSSL_SUCCESS);
  if (o.require_client_cert) {
    CHECK_EQ(wolfSSL_CTX_load_verify_locations(s->ctx, cert_path("ca.pem"), NULL),
             WOLFSSL_SUCCESS);
    wolfSSL_CTX_set_verify(s->ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           NULL);
  } else {
    wolfSSL_CTX_set_verify(s->ctx, WOLFSSL_VERIFY_NONE, NULL);
  }
  if (o.ciphers) CHECK_EQ(wolfSSL_CTX_set_cipher_list(s->ctx, o.ciphers), WOLFSSL_SUCCESS);
  wolfSSL_SetIORecv(s->ctx, s_recv);
  wolfSSL_SetIOSend(s->ctx, s_send);
  s->ssl = wolfSSL_new(s->ctx);
  wolfSSL_SetIOReadCtx(s->ssl, s);
  wolfSSL_SetIOWriteCtx(s->ssl, s);
  /* Record whatever name the client asks for, matching or not. */
  CHECK_EQ(wolfSSL_UseSNI(s->ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9), WOLFSSL_SUCCESS);
  wolfSSL_SNI_SetOptions(s->ssl, WOLFSSL_SNI_HOST_NAME, WOLFSSL_SNI_CONTINUE_ON_MISMATCH);
  if (o.alpn) {
    char list[64];
    snprintf(list, sizeof list, "%s", o.alpn);
    CHECK_EQ(wolfSSL_UseALPN(s->ssl, list, (unsigned)strlen(list),
                             WOLFSSL_ALPN_FAILED_ON_MISMATCH), WOLFSSL_SUCCESS);
  }
  return s;
}

static void srv_free(srv *s) {
  wolfSSL_free(s->ssl);
  wolfSSL_CTX_free(s->ctx);
  wbuf_free(&s->in);
  wbuf_free(&s->out);
  free(s);
}

/* Moves at most step bytes (0 = all) each way; returns the bytes moved. */
static size_t shuttle(tls_conn *c, srv *s, size_t step) {
  size_t moved = 0;
  const void *p;
  size_t n;
  while (tls_pending_ciphertext(c, &p, &n)) {
    size_t k = step && step - moved < n ? step - moved : n;
    wbuf_append(&s->in, p, k);
    tls_consume_ciphertext(c, k);
    moved += k;
    if (step && moved >= step) break;
  }
  size_t back = s->out.len;
  if (step && back > step) back = step;
  if (back) {
    tls_feed_ciphertext(c, s->out.data, back);
    wbuf_consume(&s->out, back);
    moved += back;
  }
  return moved;
}

static void srv_step(srv *s) {
  if (s->done || s->failed) return;
  int r = wolfSSL_accept(s->ssl);
  if (r == WOLFSSL_SUCCESS) { s->done = true; return; }
  int e = wolfSSL_get_error(s->ssl, r);
  if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) s->failed = true;
}

/* Runs both handshakes until neither side can progress; returns the client's result. */
static int handshake(tls_conn *c, srv *s, size_t step) {
  int cr = TLS_WANT_IO;
  for (long iter = 0; iter < 2000000; iter++) {
    if (cr == TLS_WANT_IO) cr = tls_handshake(c);
    srv_step(s);
    if (shuttle(c, s, step) == 0) {
      if (cr == TLS_WANT_IO) cr = tls_handshake(c);
      srv_step(s);
      if (shuttle(c, s, step) == 0) break;
    }
  }
  return cr;
}

/* Client -> server: writes len bytes, the server reads them all back. */
static bool send_to_server(tls_conn *c, srv *s, const char *data, size_t len, size_t step) {
  if (tls_write(c, data, len) != TLS_DONE) return false;
  char *got = malloc(len ? len : 1);
  size_t have = 0;
  char tmp[16384];
  for (long iter = 0; have < len && iter < 100000000; iter++) {
    size_t moved = shuttle(c, s, step);
    int r = wolfSSL_read(s->ssl, tmp, sizeof tmp);
    if (r > 0) {
      memcpy(got + have, tmp, (size_t)r);
      have += (size_t)r;
    } else if (moved == 0 && wolfSSL_get_error(s->ssl, r) != WOLFSSL_ERROR_WANT_READ) {
      break;
    } else if (moved == 0 && s->in.len == s->in_off) {
      break;
    }
  }
  bool ok = have == len && memcmp(got, data, len) == 0;
  free(got);
  return ok;
}

/* Server -> client: the server writes len bytes, the client reads them through tls_read. */
static bool send_to_client(tls_conn *c, srv *s, const char *data, size_t len, size_t step) {
  if (wolfSSL_write(s->ssl, data, (int)len) != (int)len) return false;
  char *got = malloc(len ? len : 1);
  size_t have = 0;
  char tmp[4096];
  for (long iter = 0; have < len && iter < 100000000; iter++) {
    size_t moved = shuttle(c, s, step);
    long r;
    while ((r = tls_read(c, tmp, sizeof tmp)) > 0) {
      memcpy(got + have, tmp, (size_t)r);
      have += (size_t)r;
    }
    if (r != TLS_WANT_IO || (moved == 0 && have < len)) break;
  }
  bool ok = have == len && memcmp(got, data, len) == 0;
  free(got);
  return ok;
}

static tls_ctx *ctx_for(bool insecure, bool client_cert) {
  tls_config cfg = {.ca_file = cert_path("ca.pem"), .insecure = insecure};
  if (client_cert) {
    cfg.cert_file = cert_path("client.pem");
    cfg.key_file = cert_path("client.key");
  }
  char err[256] = "";
  tls_ctx *x = tls_ctx_get(&cfg, err, sizeof err);
  if (!x) fprintf(stderr, "tls_ctx_get: %s\n", err);
  CHECK(x != NULL);
  return x;
}

typedef struct outcome {
  int hs;             /* client handshake result */
  tls_error_kind kind;
  bool retryable;
  char msg[768];
  bool srv_done;
} outcome;

/* One connection attempt: name, server options, client options. */
static outcome attempt(const char *name, srv_opts so, bool insecure, bool client_cert) {
  outcome o = {0};
  tls_ctx *x = ctx_for(insecure, client_cert);
  char err[256];
  tls_conn *c = tls_conn_new(x, name, "http/1.1", err, sizeof err);
  tls_ctx_release(x);
  CHECK(c != NULL);
  if (!c) { fprintf(stderr, "tls_conn_new: %s\n", err); return o; }
  srv *s = srv_new(so);
  o.hs = handshake(c, s, 0);
  o.srv_done = s->done;
  o.kind = tls_error_kind_of(c);
  o.retryable = tls_error_retryable(c);
  snprintf(o.msg, sizeof o.msg, "%s", tls_error_message(c));
  tls_conn_free(c);
  srv_free(s);
  return o;
}

/* ---- cases ------------------------------------------------------------------------------ */

static void gen_certs(void) {
  char tmpl[] = "/tmp/wisp-tls-test.XXXXXX";
  char *d = mkdtemp(tmpl);
  CHECK(d != NULL);
  if (!d) exit(1);
  snprintf(g_dir, sizeof g_dir, "%s", d);
  char src[512];
  snprintf(src, sizeof src, "%s", __FILE__);
  char cmd[1400];
  const char *gen = getenv("WISP_TLS_GEN");
  if (gen)
    snprintf(cmd, sizeof cmd, "%s '%s'", gen, g_dir);
  else
    snprintf(cmd, sizeof cmd, "bash '%s/../certs/gen.sh' '%s'", dirname(src), g_dir);
  int rc = system(cmd);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "certificate generation failed: %s\n", cmd);
    exit(1);
  }
}

static void rm_certs(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  CHECK_EQ(system(cmd), 0);
}

static void exchange(int version, size_t step, size_t big) {
  tls_ctx *x = ctx_for(false, false);
  char err[256];
  tls_conn *c = tls_conn_new(x, "localhost", "http/1.1", err, sizeof err);
  tls_ctx_release(x);
  CHECK(c != NULL);
  srv *s = srv_new((srv_opts){.version = version, .alpn = "http/1.1"});
  CHECK_EQ(handshake(c, s, step), TLS_DONE);
  CHECK(s->done);
  CHECK_STR(tls_conn_version(c), version == V_12 ? "TLSv1.2" : "TLSv1.3");
  CHECK_STR(tls_conn_alpn(c), "http/1.1");
  CHECK(!tls_conn_insecure(c));
  /* SNI as the server saw it */
  void *sni = NULL;
  unsigned short sn = wolfSSL_SNI_GetRequest(s->ssl, WOLFSSL_SNI_HOST_NAME, &sni);
  CHECK_EQ(sn, 9);
  CHECK(sni && memcmp(sni, "localhost", 9) == 0);
  char *proto = NULL;
  unsigned short pn = 0;
  CHECK_EQ(wolfSSL_ALPN_GetProtocol(s->ssl, &proto, &pn), WOLFSSL_SUCCESS);
  CHECK(pn == 8 && memcmp(proto, "http/1.1", 8) == 0);

  CHECK(send_to_server(c, s, "GET / HTTP/1.1\r\n\r\n", 18, step));
  CHECK(send_to_client(c, s, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 36, step));
  if (big) {
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++) data[i] = (char)(i * 7 + (i >> 12));
    CHECK(send_to_server(c, s, data, big, step));
    CHECK(send_to_client(c, s, data, big, step));
    free(data);
  }
  CHECK_EQ(tls_pending_bytes(c), 0);

  /* close_notify from the server: CLOSED, and it stays CLOSED */
  wolfSSL_shutdown(s->ssl);
  shuttle(c, s, 0);
  char tmp[64];
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_CLOSED);
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_CLOSED);
  /* ours reaches the server */
  tls_close(c);
  tls_close(c);
  CHECK(tls_pending_bytes(c) > 0);
  shuttle(c, s, 0);
  int r = wolfSSL_read(s->ssl, tmp, sizeof tmp);
  CHECK_EQ(r, 0);
  CHECK_EQ(wolfSSL_get_error(s->ssl, r), WOLFSSL_ERROR_ZERO_RETURN);
  CHECK_EQ(tls_write(c, "x", 1), TLS_ERROR);
  CHECK_EQ(tls_error_kind_of(c), TLS_E_USAGE);
  tls_conn_free(c);
  srv_free(s);
}

static void test_tls13_1mb(void) { exchange(V_13, 0, 1 << 20); }
static void test_tls12_1mb(void) { exchange(V_12, 0, 1 << 20); }
static void test_tls13_byte_at_a_time(void) { exchange(V_13, 1, 40000); }
static void test_tls12_byte_at_a_time(void) { exchange(V_12, 1, 40000); }
static void test_any_version_is_13(void) { exchange(V_ANY, 7, 0); }

static void test_unknown_issuer(void) {
  outcome o = attempt("localhost", (srv_opts){.cert = "untrusted"}, false, false);
  CHECK_EQ(o.hs, TLS_ERROR);
  CHECK_EQ(o.kind, TLS_E_UNKNOWN_ISSUER);
  CHECK(!o.retryable);
  CHECK(strstr(o.msg, "unknown issuer") != NULL);
  CHECK(strstr(o.msg, "Wisp Untrusted CA") != NULL);
  CHECK(!o.srv_done);
  printf("unknown issuer: %s\n", o.msg);

  o = attempt("localhost", (srv_opts){.cert = "selfsigned"}, false, false);
  CHECK_EQ(o.kind, TLS_E_UNKNOWN_ISSUER);
  CHECK(strstr(o.msg, "self-signed") != NULL);
  printf("self-signed: %s\n", o.msg);
}

static void test_expired(void) {
  outcome o = attempt("localhost", (srv_opts){.cert = "expired"}, false, false);
  CHECK_EQ(o.hs, TLS_ERROR);
  CHECK_EQ(o.kind, TLS_E_EXPIRED);
  CHECK(!o.retryable);
  CHECK(strstr(o.msg, "expired") != NULL);
  CHECK(strstr(o.msg, "2020-01-02 00:00:00 UTC") != NULL);
  printf("expired: %s\n", o.msg);

  o = attempt("localhost", (srv_opts){.cert = "future"}, false, false);
  CHECK_EQ(o.kind, TLS_E_NOT_YET_VALID);
  CHECK(strstr(o.msg, "2099-01-01") != NULL);
  printf("not yet valid: %s\n", o.msg);
}

static void test_name_mismatch(void) {
  outcome o = attempt("localhost", (srv_opts){.cert = "other"}, false, false);
  CHECK_EQ(o.hs, TLS_ERROR);
  CHECK_EQ(o.kind, TLS_E_NAME_MISMATCH);
  CHECK(!o.retryable);
  CHECK(strstr(o.msg, "hostname localhost not in certificate") != NULL);
  CHECK(strstr(o.msg, "other.test") != NULL);
  printf("name mismatch: %s\n", o.msg);

  o = attempt("other.example", (srv_opts){0}, false, false);
  CHECK_EQ(o.kind, TLS_E_NAME_MISMATCH);
  CHECK(strstr(o.msg, "other.example") != NULL);

  /* IP literals are checked against IP SANs, not sent as SNI */
  o = attempt("127.0.0.1", (srv_opts){0}, false, false);
  CHECK_EQ(o.hs, TLS_DONE);
  o = attempt("[::1]", (srv_opts){0}, false, false);
  CHECK_EQ(o.hs, TLS_DONE);
  o = attempt("10.1.2.3", (srv_opts){0}, false, false);
  CHECK_EQ(o.kind, TLS_E_NAME_MISMATCH);
  CHECK(strstr(o.msg, "IP address 10.1.2.3") != NULL);
  printf("ip mismatch: %s\n", o.msg);
  /* case and a trailing dot do not matter */
  o = attempt("LocalHost.", (srv_opts){0}, false, false);
  CHECK_EQ(o.hs, TLS_DONE);
}

static void test_three_messages_differ(void) {
  outcome a = attempt("localhost", (srv_opts){.cert = "untrusted"}, false, false);
  outcome b = attempt("localhost", (srv_opts){.cert = "expired"}, false, false);
  outcome c = attempt("localhost", (srv_opts){.cert = "other"}, false, false);
  CHECK(a.kind != b.kind && b.kind != c.kind && a.kind != c.kind);
  CHECK(strcmp(a.msg, b.msg) != 0 && strcmp(b.msg, c.msg) != 0 && strcmp(a.msg, c.msg) != 0);
}

static void test_insecure_accepts(void) {
  const char *bad[] = {"untrusted", "selfsigned", "expired", "future", "other"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    outcome o = attempt("localhost", (srv_opts){.cert = bad[i]}, true, false);
    CHECK_EQ(o.hs, TLS_DONE);
    CHECK(o.srv_done);
  }
  /* no name at all is fine when insecure, refused otherwise */
  tls_ctx *x = ctx_for(true, false);
  char err[256];
  tls_conn *c = tls_conn_new(x, NULL, NULL, err, sizeof err);
  CHECK(c != NULL);
  if (c) CHECK(tls_conn_insecure(c));
  tls_conn_free(c);
  tls_ctx_release(x);
  x = ctx_for(false, false);
  CHECK(tls_conn_new(x, NULL, NULL, err, sizeof err) == NULL);
  CHECK(strstr(err, "server name") != NULL);
  CHECK(tls_conn_new(x, "bad name!", NULL, err, sizeof err) == NULL);
  CHECK(strstr(err, "invalid server name") != NULL);
  tls_ctx_release(x);
}

static void test_mtls(void) {
  for (int v = 0; v < 2; v++) {
    int version = v ? V_12 : V_13;
    /* with a client certificate: accepted, and the server sees it */
    tls_ctx *x = ctx_for(false, true);
    char err[256];
    tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
    tls_ctx_release(x);
    srv *s = srv_new((srv_opts){.version = version, .require_client_cert = true});
    CHECK_EQ(handshake(c, s, 0), TLS_DONE);
    CHECK(s->done);
    WOLFSSL_X509 *peer = wolfSSL_get_peer_certificate(s->ssl);
    CHECK(peer != NULL);
    if (peer) {
      char cn[64] = "";
      wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(peer), NID_commonName, cn,
                                        sizeof cn);
      CHECK_STR(cn, "wisp-client");
      wolfSSL_X509_free(peer);
    }
    CHECK(send_to_server(c, s, "hello", 5, 0));
    tls_conn_free(c);
    srv_free(s);

    /* without: TLS 1.3 finishes the client side first, the alert comes with the next read;
     * TLS 1.2 fails inside the handshake */
    x = ctx_for(false, false);
    c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
    tls_ctx_release(x);
    s = srv_new((srv_opts){.version = version, .require_client_cert = true});
    int hs = handshake(c, s, 0);
    CHECK(s->failed);
    if (version == V_13) {
      /* the alert (certificate_required) arrives after the client's side is done */
      CHECK_EQ(hs, TLS_DONE);
      char tmp[16];
      CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_ERROR);
      CHECK_EQ(tls_error_kind_of(c), TLS_E_ALERT);
    } else {
      /* wolfSSL's TLS 1.2 server sends no alert, it only fails: the socket closes */
      CHECK_EQ(hs, TLS_WANT_IO);
      tls_feed_eof(c);
      CHECK_EQ(tls_handshake(c), TLS_ERROR);
      CHECK_EQ(tls_error_kind_of(c), TLS_E_IO);
    }
    CHECK(!tls_error_retryable(c));
    CHECK(strstr(tls_error_message(c), "client certificate") != NULL);
    printf("mTLS without cert (TLS 1.%d): %s\n", v ? 2 : 3, tls_error_message(c));
    tls_conn_free(c);
    srv_free(s);
  }
}

static void test_eof(void) {
  /* EOF in the middle of the handshake: I/O, retryable */
  tls_ctx *x = ctx_for(false, false);
  char err[256];
  tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  CHECK_EQ(tls_handshake(c), TLS_WANT_IO);
  CHECK(tls_pending_bytes(c) > 0);
  tls_feed_eof(c);
  CHECK_EQ(tls_handshake(c), TLS_ERROR);
  CHECK_EQ(tls_error_kind_of(c), TLS_E_IO);
  CHECK(tls_error_retryable(c));
  printf("eof in handshake: %s\n", tls_error_message(c));
  tls_conn_free(c);

  /* EOF after the handshake without close_notify: truncation */
  c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  srv *s = srv_new((srv_opts){0});
  CHECK_EQ(handshake(c, s, 0), TLS_DONE);
  CHECK(send_to_client(c, s, "abc", 3, 0));
  tls_feed_eof(c);
  char tmp[16];
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_ERROR);
  CHECK_EQ(tls_error_kind_of(c), TLS_E_IO);
  CHECK(tls_error_retryable(c));
  CHECK(strstr(tls_error_message(c), "close_notify") != NULL);
  tls_conn_free(c);
  srv_free(s);

  /* data that precedes the EOF is still delivered */
  c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  s = srv_new((srv_opts){0});
  CHECK_EQ(handshake(c, s, 0), TLS_DONE);
  CHECK_EQ(wolfSSL_write(s->ssl, "tail", 4), 4);
  wolfSSL_shutdown(s->ssl);
  shuttle(c, s, 0);
  tls_feed_eof(c);
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), 4);
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_CLOSED);
  tls_conn_free(c);
  srv_free(s);
  tls_ctx_release(x);
}

static void test_garbage_and_usage(void) {
  tls_ctx *x = ctx_for(false, false);
  char err[256];
  tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  char tmp[16];
  CHECK_EQ(tls_write(c, "x", 1), TLS_ERROR);
  CHECK_EQ(tls_error_kind_of(c), TLS_E_USAGE);
  CHECK_EQ(tls_read(c, tmp, sizeof tmp), TLS_ERROR);
  tls_conn_free(c);

  /* a plain HTTP server on the TLS port */
  c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  CHECK_EQ(tls_handshake(c), TLS_WANT_IO);
  const char *http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  tls_feed_ciphertext(c, http, strlen(http));
  CHECK_EQ(tls_handshake(c), TLS_ERROR);
  CHECK_EQ(tls_error_kind_of(c), TLS_E_PROTOCOL);
  CHECK(strstr(tls_error_message(c), "did not answer with TLS") != NULL);
  CHECK(!tls_error_retryable(c));
  printf("plain HTTP answer: %s (%s)\n", tls_error_message(c),
         tls_error_retryable(c) ? "retryable" : "not retryable");
  CHECK_EQ(tls_handshake(c), TLS_ERROR);
  tls_conn_free(c);
  tls_ctx_release(x);
}

static void test_pending_is_stable(void) {
  tls_ctx *x = ctx_for(false, false);
  char err[256];
  tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
  tls_ctx_release(x);
  srv *s = srv_new((srv_opts){0});
  CHECK_EQ(handshake(c, s, 0), TLS_DONE);
  CHECK_EQ(tls_write(c, "first", 5), TLS_DONE);
  const void *p;
  size_t n;
  CHECK(tls_pending_ciphertext(c, &p, &n));
  char *copy = malloc(n);
  memcpy(copy, p, n);
  /* more output while "a send is in flight" must not move or change those bytes */
  char big[70000];
  memset(big, 'z', sizeof big);
  for (int i = 0; i < 20; i++) CHECK_EQ(tls_write(c, big, sizeof big), TLS_DONE);
  CHECK(memcmp(p, copy, n) == 0);
  struct iovec iov[256];
  int k = tls_pending_iov(c, iov, 256);
  CHECK(k > 1 && k < 256);
  CHECK(iov[0].iov_base == p && iov[0].iov_len >= n);
  CHECK_EQ(tls_pending_iov(c, iov, 2), 2);
  k = tls_pending_iov(c, iov, 256);
  size_t total = 0;
  for (int i = 0; i < k; i++) total += iov[i].iov_len;
  CHECK_EQ(total, tls_pending_bytes(c));
  /* partial consumption keeps the rest in order: the server decrypts it all */
  tls_consume_ciphertext(c, 0);
  free(copy);
  size_t want = 5 + 20 * sizeof big, have = 0;
  char tmp[16384];
  while (tls_pending_bytes(c)) {
    CHECK(tls_pending_ciphertext(c, &p, &n));
    size_t part = n > 1000 ? n / 3 : n;
    wbuf_append(&s->in, p, part);
    tls_consume_ciphertext(c, part);
    int r;
    while ((r = wolfSSL_read(s->ssl, tmp, sizeof tmp)) > 0) have += (size_t)r;
  }
  CHECK_EQ(have, want);
  CHECK(!tls_pending_ciphertext(c, &p, &n));
  tls_conn_free(c);
  srv_free(s);
}

static void test_ctx_cache_and_config_errors(void) {
  tls_config cfg = {.ca_file = cert_path("ca.pem")};
  char err[512];
  tls_ctx *a = tls_ctx_get(&cfg, err, sizeof err);
  tls_ctx *b = tls_ctx_get(&cfg, err, sizeof err);
  CHECK(a != NULL && a == b);
  tls_config other = cfg;
  other.insecure = true;
  tls_ctx *i1 = tls_ctx_get(&other, err, sizeof err);
  CHECK(i1 != NULL && i1 != a);
  other.ca_file = "/nonexistent"; /* unused when insecure: same context */
  tls_ctx *i2 = tls_ctx_get(&other, err, sizeof err);
  CHECK(i2 == i1);
  tls_ctx_release(i1);
  tls_ctx_release(i2);
  /* many connections, one context */
  enum { N = 2000 };
  tls_conn **cs = malloc(N * sizeof *cs);
  for (int i = 0; i < N; i++) {
    cs[i] = tls_conn_new(a, "localhost", "http/1.1", err, sizeof err);
    CHECK(cs[i] != NULL);
  }
  CHECK(tls_ctx_get(&cfg, err, sizeof err) == a);
  tls_ctx_release(a);
  for (int i = 0; i < N; i++) tls_conn_free(cs[i]);
  free(cs);
  /* a changed file makes a new context; the old one lives on for its holders */
  struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
  CHECK_EQ(utimes(cert_path("ca.pem"), tv), 0);
  tls_ctx *c = tls_ctx_get(&cfg, err, sizeof err);
  CHECK(c != NULL && c != a);
  tls_ctx_release(a);
  tls_ctx_release(b);
  tls_ctx_release(c);

  cfg.ca_file = "/nonexistent/ca.pem";
  CHECK(tls_ctx_get(&cfg, err, sizeof err) == NULL);
  CHECK(strstr(err, "/nonexistent/ca.pem") && strstr(err, "No such file"));
  printf("missing CA: %s\n", err);
  cfg.ca_file = cert_path("ca.key");
  CHECK(tls_ctx_get(&cfg, err, sizeof err) == NULL);
  CHECK(strstr(err, "no usable CA certificate") != NULL);
  printf("bad CA: %s\n", err);
  cfg.ca_file = cert_path("ca.pem");
  cfg.cert_file = cert_path("client.pem");
  CHECK(tls_ctx_get(&cfg, err, sizeof err) == NULL);
  CHECK(strstr(err, "without key_file") != NULL);
  cfg.key_file = cert_path("server.key");
  CHECK(tls_ctx_get(&cfg, err, sizeof err) == NULL);
  CHECK(strstr(err, "does not match") != NULL);
  printf("mismatched key: %s\n", err);
  cfg.key_file = cert_path("client.key");
  tls_ctx *m = tls_ctx_get(&cfg, err, sizeof err);
  CHECK(m != NULL);
  tls_ctx_release(m);

  /* the system bundle, when the machine has one */
  if (access(TLS_DEFAULT_CA_FILE, R_OK) == 0) {
    tls_config sys = {0};
    tls_ctx *d = tls_ctx_get(&sys, err, sizeof err);
    if (!d) fprintf(stderr, "system CA bundle: %s\n", err);
    CHECK(d != NULL);
    tls_ctx_release(d);
  }
  tls_ctx_cache_flush();
}

static void test_cipher_preference(void) {
  const char *list = tls_cipher_list();
  printf("cipher preference: %s\n", tls_cipher_preference());
  CHECK(strstr(list, "TLS13-AES128-GCM-SHA256") != NULL);
  CHECK(strstr(list, "TLS13-CHACHA20-POLY1305-SHA256") != NULL);
  bool aes_first = strncmp(list, "TLS13-AES", 9) == 0;
  CHECK_EQ(aes_first, strncmp(tls_cipher_preference(), "aes", 3) == 0);
  /* a server limited to one suite still agrees with us, either way round */
  const char *only[] = {"TLS13-AES128-GCM-SHA256", "TLS13-CHACHA20-POLY1305-SHA256",
                        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256"};
  for (int i = 0; i < 4; i++) {
    tls_ctx *x = ctx_for(false, false);
    char err[256];
    tls_conn *c = tls_conn_new(x, "localhost", NULL, err, sizeof err);
    tls_ctx_release(x);
    srv *s = srv_new((srv_opts){.version = i < 2 ? V_13 : V_12, .ciphers = only[i]});
    CHECK_EQ(handshake(c, s, 0), TLS_DONE);
    CHECK(tls_conn_cipher(c) && strcmp(tls_conn_cipher(c), only[i]) == 0);
    tls_conn_free(c);
    srv_free(s);
  }
}

static void test_setup(void) { gen_certs(); }
static void test_teardown(void) {
  tls_ctx_cache_flush();
  rm_certs();
}

TEST_MAIN(test_setup, test_tls13_1mb, test_tls12_1mb, test_tls13_byte_at_a_time,
          test_tls12_byte_at_a_time, test_any_version_is_13, test_unknown_issuer, test_expired,
          test_name_mismatch, test_three_messages_differ, test_insecure_accepts, test_mtls,
          test_eof, test_garbage_and_usage, test_pending_is_stable,
          test_ctx_cache_and_config_errors, test_cipher_preference, test_teardown)
