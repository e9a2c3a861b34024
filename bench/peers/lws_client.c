/* bench/peers/lws_client.c — the libwebsockets peer of the WebSocket benchmarks (Debian's
 * libwebsockets-dev, its default poll loop, one connection). Same modes and output as
 * rawclient.c, plus permessage-deflate:
 *
 * Usage: lws_client recv PORT PATH N [CA_FILE|-] [deflate]
 *        lws_client echo PORT PATH SECONDS SIZE [CA_FILE|-]
 * Prints "RESULT msgs=.. bytes=.. seconds=.." or "RESULT rtts=.. seconds=.. p50_us=.. p99_us=..";
 * "UNAVAILABLE why" when the server refused for want of permessage-deflate (close 4000).
 * Exits 1 with a message on any failure. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RECV, ECHO };

static struct {
  int mode, done, failed, closing, want_go;
  unsigned long long want, msgs, bytes;
  double t0, el, seconds, sent_at;
  size_t size, got;
  double *lat;
  size_t nlat, cap;
  unsigned char *buf; /* LWS_PRE + payload */
} g;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int on_frame_end(struct lws *wsi) {
  if (g.mode == RECV) {
    g.msgs++;
    if (g.msgs == g.want) {
      g.el = now() - g.t0;
      g.closing = 1;
      lws_callback_on_writable(wsi);
    }
    return 0;
  }
  double t = now();
  if (g.got != g.size) { fprintf(stderr, "lws_client: echo of %zu bytes, sent %zu\n", g.got, g.size); g.failed = 1; return -1; }
  g.got = 0;
  if (g.nlat == g.cap) {
    g.cap = g.cap ? g.cap * 2 : 1 << 20;
    g.lat = realloc(g.lat, g.cap * sizeof *g.lat);
    if (!g.lat) { g.failed = 1; return -1; }
  }
  g.lat[g.nlat++] = t - g.sent_at;
  if (t - g.t0 >= g.seconds) {
    g.el = t - g.t0;
    g.closing = 1;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  switch (reason) {
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    fprintf(stderr, "lws_client: connection error: %s\n", in ? (const char *)in : "?");
    g.failed = 1;
    g.done = 1;
    break;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    g.t0 = now();
    g.want_go = 1;
    lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (g.closing) {
      lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
      return -1;
    }
    if (g.mode == RECV) {
      if (g.want_go) {
        g.want_go = 0;
        memcpy(g.buf + LWS_PRE, "go", 2);
        if (lws_write(wsi, g.buf + LWS_PRE, 2, LWS_WRITE_BINARY) < 2) { g.failed = 1; return -1; }
      }
    } else {
      g.sent_at = now();
      if (lws_write(wsi, g.buf + LWS_PRE, g.size, LWS_WRITE_BINARY) < (int)g.size) { g.failed = 1; return -1; }
    }
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    g.bytes += len;
    g.got += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) return on_frame_end(wsi);
    break;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (len >= 2 && ((((const unsigned char *)in)[0] << 8) | ((const unsigned char *)in)[1]) == 4000) {
      puts("UNAVAILABLE permessage-deflate not negotiated");
      g.closing = 2;
    }
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    g.done = 1;
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"bench", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  const char *ca = NULL;
  int deflate = 0, port;
  const char *path;
  if (argc >= 5 && !strcmp(argv[1], "recv")) {
    g.mode = RECV;
    g.want = strtoull(argv[4], NULL, 10);
    if (argc > 5 && strcmp(argv[5], "-")) ca = argv[5];
    deflate = argc > 6 && !strcmp(argv[6], "deflate");
  } else if (argc >= 6 && !strcmp(argv[1], "echo")) {
    g.mode = ECHO;
    g.seconds = atof(argv[4]);
    g.size = (size_t)atol(argv[5]);
    if (argc > 6 && strcmp(argv[6], "-")) ca = argv[6];
  } else {
    fprintf(stderr, "usage: lws_client recv PORT PATH N [CA_FILE|-] [deflate]\n"
                    "       lws_client echo PORT PATH SECONDS SIZE [CA_FILE|-]\n");
    return 2;
  }
  port = atoi(argv[2]);
  path = argv[3];
  g.buf = calloc(1, LWS_PRE + g.size + 16);
  if (!g.buf) return 1;
  memset(g.buf + LWS_PRE, 'e', g.size);
  lws_set_log_level(LLL_ERR, NULL);

  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.client_ssl_ca_filepath = ca;
  info.fd_limit_per_thread = 8;
  if (deflate) info.extensions = extensions;
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx) { fputs("lws_client: cannot create the context\n", stderr); return 1; }

  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = ctx;
  ci.address = "127.0.0.1";
  ci.port = port;
  ci.path = path;
  ci.host = "localhost";
  ci.origin = "localhost";
  ci.local_protocol_name = "bench";
  ci.ssl_connection = ca ? LCCSCF_USE_SSL : 0;
  if (!lws_client_connect_via_info(&ci)) { fputs("lws_client: connect failed\n", stderr); return 1; }
  while (!g.done && lws_service(ctx, 0) >= 0) {
  }
  lws_context_destroy(ctx);
  if (g.closing == 2) return 0;
  if (g.failed || !g.closing) {
    fprintf(stderr, "lws_client: ended before the run completed (%llu messages)\n", g.msgs);
    return 1;
  }
  if (g.mode == RECV) {
    printf("RESULT msgs=%llu bytes=%llu seconds=%.6f\n", g.msgs, g.bytes, g.el);
  } else {
    qsort(g.lat, g.nlat, sizeof *g.lat, cmp_d);
    printf("RESULT rtts=%zu seconds=%.6f p50_us=%.2f p99_us=%.2f\n", g.nlat, g.el,
           g.lat[g.nlat / 2] * 1e6, g.lat[(size_t)((double)g.nlat * 0.99)] * 1e6);
  }
  return 0;
}
