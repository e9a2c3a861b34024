/* net/admin.h — the admin endpoint (`--admin ADDR`): /healthz, /readyz and /metrics over a
 * minimal HTTP/1.1 (GET only, one request per connection), served from the net thread. The
 * listening socket is bound by the caller's thread (so a busy port is a start-up error), then
 * handed to the loop. */
#ifndef WISP_NET_ADMIN_H
#define WISP_NET_ADMIN_H
#include <stdbool.h>
#include <stddef.h>
#include "net/backend.h"

/* Binds and listens on "host:port" ("127.0.0.1:9090", "[::1]:9090", ":9090" = all
 * interfaces). Returns the fd, or -1 with a message in err. */
int admin_listen(const char *addr, char *err, size_t errlen);
/* Net thread: starts accepting on fd (from admin_listen). */
void admin_serve(nb_backend *b, int fd);
/* Net thread, at loop shutdown: closes the listener and open admin connections. */
void admin_stop(nb_backend *b);
/* Any thread: hands fd to the net thread, which serves it until net_stop. False if the net
 * thread is not running. /readyz reports core/health.h's readiness. */
bool admin_start(int fd);

#endif
