/* net/admin.c — see admin.h. At most ADMIN_MAX_CONNS connections at once (more are closed at
 * accept); a request larger than ADMIN_REQ_MAX is answered 431; each connection does one read
 * sequence, one write, then closes. */
#include "net/admin.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "core/buf.h"
#include "core/health.h"
#include "core/metrics.h"
#include "net/netloop.h"

#define ADMIN_MAX_CONNS 32
#define ADMIN_REQ_MAX 4096

typedef struct admin_conn {
  nb_op op;
  int fd;
  bool in_use;
  size_t got;
  char req[ADMIN_REQ_MAX];
  wbuf resp;
  size_t sent;
} admin_conn;

static int listen_fd = -1;
static nb_op accept_op;
static admin_conn conns[ADMIN_MAX_CONNS];

int admin_listen(const char *addr, char *err, size_t errlen) {
  char host[256];
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1]) {
    snprintf(err, errlen, "--admin: expected HOST:PORT (e.g. 127.0.0.1:9090), got \"%s\"", addr);
    return -1;
  }
  size_t hl = (size_t)(colon - addr);
  if (hl >= sizeof host) hl = sizeof host - 1;
  memcpy(host, addr, hl);
  host[hl] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 1 || port > 65535) {
    snprintf(err, errlen, "--admin: port must be 1-65535, got \"%s\"", colon + 1);
    return -1;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (host[0] == '[') { /* [v6] */
    size_t n = strlen(host);
    if (n < 2 || host[n - 1] != ']') {
      snprintf(err, errlen, "--admin: bad IPv6 address \"%s\"", host);
      return -1;
    }
    host[n - 1] = 0;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
      snprintf(err, errlen, "--admin: bad IPv6 address \"%s\"", host + 1);
      return -1;
    }
    sl = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0) s4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0) s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
      snprintf(err, errlen, "--admin: \"%s\" is not an IPv4 address (use an address, not a name)", host);
      return -1;
    }
    sl = sizeof *s4;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "--admin: socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
    snprintf(err, errlen, "--admin %s: %s", addr, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static void conn_close(nb_backend *b, admin_conn *c) {
  nb_forget_fd(b, c->fd);
  close(c->fd);
  wbuf_free(&c->resp);
  c->in_use = false;
}

static void on_written(nb_op *op, int32_t res, uint32_t flags);

static nb_backend *g_backend;

static void respond(admin_conn *c, int status, const char *reason, const char *ctype, const char *body, size_t blen) {
  wbuf_printf(&c->resp, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
              status, reason, ctype, blen);
  wbuf_append(&c->resp, body, blen);
}

static void handle_request(admin_conn *c) {
  char method[8], path[256];
  if (sscanf(c->req, "%7s %255s HTTP/1.", method, path) != 2) {
    respond(c, 400, "Bad Request", "text/plain", "bad request\n", 12);
    return;
  }
  char *q = strchr(path, '?');
  if (q) *q = 0;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    respond(c, 405, "Method Not Allowed", "text/plain", "GET only\n", 9);
    return;
  }
  if (strcmp(path, "/healthz") == 0) {
    respond(c, 200, "OK", "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/readyz") == 0) {
    if (health_ready()) respond(c, 200, "OK", "text/plain", "ready\n", 6);
    else respond(c, 503, "Service Unavailable", "text/plain", "not ready\n", 10);
  } else if (strcmp(path, "/metrics") == 0) {
    wbuf body = WBUF_INIT;
    metrics_render(&body);
    respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body.data ? body.data : "", body.len);
    wbuf_free(&body);
  } else {
    respond(c, 404, "Not Found", "text/plain", "not found: try /healthz, /readyz or /metrics\n", 45);
  }
}

static void on_read(nb_op *op, int32_t res, uint32_t flags) {
  admin_conn *c = (admin_conn *)op;
  if (res <= 0) {
    conn_close(g_backend, c);
    return;
  }
  c->got += (size_t)res;
  c->req[c->got] = 0;
  if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
    if (c->got >= ADMIN_REQ_MAX - 1) {
      respond(c, 431, "Request Header Fields Too Large", "text/plain", "too large\n", 10);
    } else {
      c->op.cb = on_read;
      if (nb_read(g_backend, &c->op, c->fd, c->req + c->got, ADMIN_REQ_MAX - 1 - c->got) < 0) conn_close(g_backend, c);
      return;
    }
  } else {
    handle_request(c);
  }
  c->sent = 0;
  c->op.cb = on_written;
  if (nb_write(g_backend, &c->op, c->fd, c->resp.data, c->resp.len) < 0) conn_close(g_backend, c);
}

static void on_written(nb_op *op, int32_t res, uint32_t flags) {
  admin_conn *c = (admin_conn *)op;
  if (res <= 0) {
    conn_close(g_backend, c);
    return;
  }
  c->sent += (size_t)res;
  if (c->sent < c->resp.len) {
    if (nb_write(g_backend, &c->op, c->fd, c->resp.data + c->sent, c->resp.len - c->sent) < 0) conn_close(g_backend, c);
    return;
  }
  conn_close(g_backend, c);
}

static void on_accept(nb_op *op, int32_t res, uint32_t flags) {
  if (res == -ECANCELED || listen_fd < 0) return;
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    admin_conn *c = NULL;
    for (int i = 0; i < ADMIN_MAX_CONNS && !c; i++)
      if (!conns[i].in_use) c = &conns[i];
    if (!c) { /* too many at once: shed load rather than queue */
      close(fd);
      continue;
    }
    memset(c, 0, sizeof *c);
    c->in_use = true;
    c->fd = fd;
    c->op.cb = on_read;
    if (nb_read(g_backend, &c->op, fd, c->req, ADMIN_REQ_MAX - 1) < 0) conn_close(g_backend, c);
  }
  accept_op.cb = on_accept;
  nb_poll(g_backend, &accept_op, listen_fd, POLLIN);
}

void admin_serve(nb_backend *b, int fd) {
  g_backend = b;
  listen_fd = fd;
  accept_op.cb = on_accept;
  nb_poll(b, &accept_op, fd, POLLIN);
}

void admin_stop(nb_backend *b) {
  if (listen_fd < 0) return;
  nb_cancel(b, &accept_op);
  for (int i = 0; i < ADMIN_MAX_CONNS; i++)
    if (conns[i].in_use) nb_cancel(b, &conns[i].op);
  int fd = listen_fd;
  listen_fd = -1;
  nb_forget_fd(b, fd);
  close(fd);
}

/* ---- start-up from another thread ---- */

typedef struct admin_call {
  net_call call;
  int fd;
} admin_call;

static void on_loop_stop(void) {
  /* the backend is closed: no callback will come; close what is open */
  for (int i = 0; i < ADMIN_MAX_CONNS; i++)
    if (conns[i].in_use) {
      close(conns[i].fd);
      wbuf_free(&conns[i].resp);
      conns[i].in_use = false;
    }
  if (listen_fd >= 0) close(listen_fd);
  listen_fd = -1;
}

static void start_on_loop(net_call *c) {
  admin_call *a = (admin_call *)c;
  net_on_stop(on_loop_stop);
  admin_serve(net_loop_backend(), a->fd);
  free(a);
}

bool admin_start(int fd) {
  admin_call *a = calloc(1, sizeof *a);
  if (!a) return false;
  a->call.fn = start_on_loop;
  a->fd = fd;
  if (!net_call_submit(&a->call)) {
    free(a);
    return false;
  }
  return true;
}
