/* tests/fuzz/fuzz_tls_record.c — the TLS engine (net/tls.c) receiving arbitrary "server"
 * bytes after its ClientHello, fed in chunks whose sizes come from the input. Checks the
 * engine's invariants: results are only DONE / WANT_IO / ERROR (reads: n, WANT_IO, CLOSED,
 * ERROR), an error is sticky and always has a kind and a message, pending output and the
 * iovec view agree, consuming in pieces drains it exactly, and EOF always ends the attempt.
 * Input: byte 0 = split seed, rest = the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tls_ctx *g_ctx;

static void drain(tls_conn *c, unsigned seed) {
  struct iovec iov[64];
  int n = tls_pending_iov(c, iov, 64);
  size_t sum = 0;
  for (int i = 0; i < n; i++) sum += iov[i].iov_len;
  if (n < 64 && sum != tls_pending_bytes(c)) abort();
  const void *p;
  size_t len;
  while (tls_pending_ciphertext(c, &p, &len)) {
    if (!p || !len || len > tls_pending_bytes(c)) abort();
    size_t k = seed % 3 == 0 ? len : len / 2 + 1;
    tls_consume_ciphertext(c, k);
  }
  if (tls_pending_bytes(c) != 0) abort();
}

static void check_error(tls_conn *c) {
  if (tls_error_kind_of(c) == TLS_E_NONE || !tls_error_message(c)[0]) abort();
  if (tls_handshake(c) != TLS_ERROR) abort(); /* sticky */
}

/* One step after new bytes: returns false once the connection is over. */
static bool step(tls_conn *c, bool *open, unsigned seed) {
  if (!*open) {
    int r = tls_handshake(c);
    drain(c, seed);
    if (r == TLS_ERROR) { check_error(c); return false; }
    if (r == TLS_WANT_IO) return true;
    if (r != TLS_DONE) abort();
    *open = true;
  }
  char buf[4096];
  for (;;) {
    long r = tls_read(c, buf, sizeof buf);
    drain(c, seed);
    if (r > 0) { if ((size_t)r > sizeof buf) abort(); continue; }
    if (r == TLS_WANT_IO) return true;
    if (r == TLS_CLOSED) return false;
    if (r != TLS_ERROR) abort();
    check_error(c);
    return false;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_ctx) {
    tls_config cfg = {.insecure = true};
    char err[256];
    g_ctx = tls_ctx_get(&cfg, err, sizeof err);
    if (!g_ctx) { fprintf(stderr, "fuzz_tls_record: %s\n", err); abort(); }
  }
  if (size < 1) return 0;
  unsigned seed = data[0];
  data++;
  size--;
  char err[256];
  tls_conn *c = tls_conn_new(g_ctx, "localhost", "http/1.1", err, sizeof err);
  if (!c) abort();
  bool open = false, live = true;
  if (tls_handshake(c) != TLS_WANT_IO) abort();
  if (tls_pending_bytes(c) == 0) abort(); /* the ClientHello */
  drain(c, seed);
  size_t off = 0;
  unsigned s = seed * 2654435761u + 1;
  while (live && off < size) {
    s = s * 1103515245u + 12345u;
    size_t k = seed & 1 ? 1 + (s >> 16) % 97 : size - off;
    if (k > size - off) k = size - off;
    tls_feed_ciphertext(c, data + off, k);
    off += k;
    live = step(c, &open, seed);
  }
  if (live) {
    tls_feed_eof(c);
    if (step(c, &open, seed)) abort(); /* after EOF nothing can still be waiting */
  }
  tls_close(c);
  drain(c, seed);
  tls_conn_free(c);
  return 0;
}
