/* net/dns.h — host name resolution for the net thread, which must never block: getaddrinfo(3)
 * runs on a small pool of resolver threads and its result comes back to the loop as a command
 * (net_call_submit), in the loop's own order with everything else.
 *
 * Why a thread pool and not c-ares: c-ares is not among the project's dependencies (Debian
 * packages: Lua, liburing, wolfSSL, zlib, jansson, libfyaml), and getaddrinfo keeps the whole
 * system resolver configuration (nsswitch, /etc/hosts, search domains, gai.conf ordering)
 * that operators expect. A lookup that hangs holds one pool thread, never the loop; the
 * connection's dial deadline ends the wait for it, and its late result is dropped. */
#ifndef WISP_NET_DNS_H
#define WISP_NET_DNS_H
#include <netdb.h>
#include <stdint.h>

#define DNS_MAX_THREADS 4 /* concurrent lookups; more wait in FIFO order */
#define DNS_IDLE_SECONDS 30 /* an idle resolver thread exits after this long */
#define DNS_ERR_MAX 160

/* Runs on the net thread when the lookup is over: on success ai is the address list (the
 * callee owns it: freeaddrinfo) and err is NULL; on failure ai is NULL and err a message such
 * as "Name or service not known". owner is the id given to dns_resolve. */
typedef void (*dns_done_fn)(uint64_t owner, struct addrinfo *ai, const char *err);

/* Any thread. Resolves host (a name; numeric hosts need no pool: use AI_NUMERICHOST) for TCP
 * port `port`. Returns 0, or -1 when out of memory or no resolver thread can be started (done
 * is then never called). If the net thread is not running when the result is ready, the
 * result is dropped. */
int dns_resolve(const char *host, uint16_t port, uint64_t owner, dns_done_fn done);

#endif
