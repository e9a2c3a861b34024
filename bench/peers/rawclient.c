/* bench/peers/rawclient.c — the ceiling of the WebSocket benchmarks: a client that does the
 * least a WebSocket client can do. Blocking socket (optionally OpenSSL TLS), a hand-written
 * upgrade, then frame headers walked in place and payloads skipped (recv) or one masked frame
 * out and one frame back at a time (echo). What it reaches is what the load server and the
 * kernel allow; every real client is measured below it.
 *
 * Usage: rawclient recv PORT PATH N [CA_FILE|-] [deflate]   count N data messages from
 *                                                           ws://127.0.0.1:PORT/PATH
 *        rawclient echo PORT PATH SECONDS SIZE [CA_FILE|-]  sequential round trips of SIZE bytes
 * With CA_FILE the connection is wss:// and the server certificate must verify against it.
 * "deflate" offers permessage-deflate; the compressed frames are counted, never inflated
 * (bytes= is then the compressed payload), which measures how fast the server sends them.
 * Prints one line: "RESULT msgs=.. bytes=.. seconds=.." or "RESULT rtts=.. seconds=.. p50_us=..
 * p99_us=..". Exits 1 with a message on any failure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_fd;
static SSL *g_ssl;

static void fail(const char *m) {
  fprintf(stderr, "rawclient: %s\n", m);
  if (g_ssl) ERR_print_errors_fp(stderr);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rd(void *p, size_t n) {
  if (g_ssl) {
    int r = SSL_read(g_ssl, p, (int)n);
    if (r <= 0) fail("connection ended early");
    return (size_t)r;
  }
  ssize_t r = recv(g_fd, p, n, 0);
  if (r <= 0) fail("connection ended early");
  return (size_t)r;
}

static void wr(const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = g_ssl ? SSL_write(g_ssl, b, (int)n) : send(g_fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) fail("write failed");
    b += w;
    n -= (size_t)w;
  }
}

/* A masked client frame (mask 0x11223344; the server unmasks whatever the key). */
static size_t client_frame(uint8_t *o, uint8_t b0, const uint8_t *p, size_t n) {
  static const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  size_t h = 2;
  o[0] = b0;
  if (n < 126) o[1] = (uint8_t)(0x80 | n);
  else { o[1] = 0x80 | 126; o[2] = (uint8_t)(n >> 8); o[3] = (uint8_t)n; h = 4; }
  memcpy(o + h, mask, 4);
  for (size_t i = 0; i < n; i++) o[h + 4 + i] = p[i] ^ mask[i & 3];
  return h + 4 + n;
}

static uint8_t g_buf[1 << 18];
static size_t g_have; /* bytes after the 101 response already read */

static void dial(int port, const char *path, const char *ca, int deflate) {
  g_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(g_fd, (struct sockaddr *)&a, sizeof a) < 0) fail("connect refused");
  int one = 1;
  setsockopt(g_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (ca) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) fail("cannot load the CA file");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    g_ssl = SSL_new(ctx);
    SSL_set_fd(g_ssl, g_fd);
    SSL_set_tlsext_host_name(g_ssl, "localhost");
    SSL_set1_host(g_ssl, "127.0.0.1");
    if (SSL_connect(g_ssl) != 1) fail("TLS handshake failed");
  }
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   path, port, deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
  wr(req, (size_t)n);
  size_t len = 0;
  char *end = NULL;
  while (!end) {
    if (len >= sizeof g_buf - 1) fail("oversized upgrade response");
    len += rd(g_buf + len, sizeof g_buf - 1 - len);
    g_buf[len] = 0;
    end = strstr((char *)g_buf, "\r\n\r\n");
  }
  if (strncmp((char *)g_buf, "HTTP/1.1 101", 12)) fail("upgrade refused");
  size_t hl = (size_t)(end + 4 - (char *)g_buf);
  g_have = len - hl;
  memmove(g_buf, g_buf + hl, g_have);
}

static void close_and_drain(void) {
  uint8_t f[16];
  wr(f, client_frame(f, 0x88, (const uint8_t *)"\x03\xe8", 2));
  for (;;) { /* until the server closes TCP */
    int r = g_ssl ? SSL_read(g_ssl, g_buf, sizeof g_buf) : (int)recv(g_fd, g_buf, sizeof g_buf, 0);
    if (r <= 0) break;
  }
}

static void run_recv(uint64_t want) {
  uint8_t f[16];
  double t0 = now();
  wr(f, client_frame(f, 0x82, (const uint8_t *)"go", 2));
  uint64_t msgs = 0, bytes = 0, skip = 0;
  uint8_t hdr[10];
  size_t hn = 0, need = 2;
  int data = 0, fin = 0;
  size_t len = g_have;
  for (;;) {
    size_t i = 0;
    while (i < len) {
      if (skip) { /* inside a payload */
        size_t k = len - i < skip ? len - i : (size_t)skip;
        i += k;
        skip -= k;
        bytes += data ? k : 0;
        if (!skip && data && fin) msgs++;
        continue;
      }
      hdr[hn++] = g_buf[i++];
      if (hn == 2) {
        uint8_t l7 = hdr[1] & 0x7f;
        need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
      }
      if (hn < 2 || hn < need) continue;
      uint64_t pl = hdr[1] & 0x7f;
      if (pl == 126) pl = ((uint64_t)hdr[2] << 8) | hdr[3];
      else if (pl == 127) { pl = 0; for (int k = 0; k < 8; k++) pl = (pl << 8) | hdr[2 + k]; }
      data = (hdr[0] & 0x0f) < 8;
      fin = (hdr[0] & 0x80) != 0;
      if ((hdr[0] & 0x0f) == 8) fail("server closed early");
      hn = 0;
      need = 2;
      skip = pl;
      if (!pl && data && fin) msgs++;
    }
    if (msgs >= want) break;
    len = rd(g_buf, sizeof g_buf);
  }
  double el = now() - t0;
  close_and_drain();
  printf("RESULT msgs=%llu bytes=%llu seconds=%.6f\n", (unsigned long long)msgs,
         (unsigned long long)bytes, el);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void run_echo(double seconds, size_t size) {
  uint8_t *msg = malloc(size), *f = malloc(size + 16);
  size_t cap = 1 << 20, nlat = 0;
  double *lat = malloc(cap * sizeof *lat);
  if (!msg || !f || !lat) fail("out of memory");
  memset(msg, 'e', size);
  size_t flen = client_frame(f, 0x82, msg, size);
  size_t hl = size < 126 ? 2 : 4, want = hl + size;
  double t0 = now(), end = t0 + seconds, t;
  do {
    double s = now();
    wr(f, flen);
    size_t got = g_have;
    g_have = 0;
    while (got < want) got += rd(g_buf + got, sizeof g_buf - got);
    if (got != want || (g_buf[0] & 0x0f) != 2) fail("unexpected echo");
    t = now();
    if (nlat == cap) {
      cap *= 2;
      lat = realloc(lat, cap * sizeof *lat);
      if (!lat) fail("out of memory");
    }
    lat[nlat++] = t - s;
  } while (t < end);
  double el = t - t0;
  close_and_drain();
  qsort(lat, nlat, sizeof *lat, cmp_d);
  printf("RESULT rtts=%zu seconds=%.6f p50_us=%.2f p99_us=%.2f\n", nlat, el, lat[nlat / 2] * 1e6,
         lat[(size_t)((double)nlat * 0.99)] * 1e6);
}

int main(int argc, char **argv) {
  if (argc >= 5 && !strcmp(argv[1], "recv")) {
    dial(atoi(argv[2]), argv[3], argc > 5 && strcmp(argv[5], "-") ? argv[5] : NULL,
         argc > 6 && !strcmp(argv[6], "deflate"));
    run_recv(strtoull(argv[4], NULL, 10));
  } else if (argc >= 6 && !strcmp(argv[1], "echo")) {
    dial(atoi(argv[2]), argv[3], argc > 6 && strcmp(argv[6], "-") ? argv[6] : NULL, 0);
    run_echo(atof(argv[4]), (size_t)atol(argv[5]));
  } else {
    fprintf(stderr, "usage: rawclient recv PORT PATH N [CA_FILE|-] [deflate]\n"
                    "       rawclient echo PORT PATH SECONDS SIZE [CA_FILE|-]\n");
    return 2;
  }
  return 0;
}
