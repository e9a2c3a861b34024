/* net/dns.c — the resolver thread pool (see dns.h).
 * A FIFO of queries under one mutex; threads are started on demand (a query finds no idle
 * thread and fewer than DNS_MAX_THREADS exist), are detached, start with every signal
 * blocked (signals belong to the main thread), and exit after DNS_IDLE_SECONDS without work,
 * so an idle process keeps none. Results travel back as the query object itself, a net_call. */
#include "net/dns.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "net/netloop.h"

typedef struct dns_query {
  net_call call; /* first: the query is the command that carries its result */
  struct dns_query *next;
  uint64_t owner;
  dns_done_fn done;
  uint16_t port;
  struct addrinfo *ai;
  char err[DNS_ERR_MAX]; /* empty on success */
  char host[];
} dns_query;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  dns_query *head, *tail;
  int queued, threads, idle;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0};

/* Net thread: hands the result to its owner. */
static void deliver(net_call *c) {
  dns_query *q = (dns_query *)c;
  q->done(q->owner, q->ai, q->err[0] ? q->err : NULL);
  free(q);
}

static void lookup(dns_query *q) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)q->port);
  int rc = getaddrinfo(q->host, port, &hints, &q->ai);
  if (rc == 0 && !q->ai) rc = EAI_NONAME;
  if (rc != 0) {
    q->ai = NULL;
    snprintf(q->err, sizeof q->err, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
  }
}

static void *worker(void *arg) {
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.head) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += DNS_IDLE_SECONDS;
      pool.idle++;
      int rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &until);
      pool.idle--;
      if (rc == ETIMEDOUT && !pool.head) {
        pool.threads--;
        pthread_mutex_unlock(&pool.mu);
        return NULL;
      }
    }
    dns_query *q = pool.head;
    pool.head = q->next;
    if (!pool.head) pool.tail = NULL;
    pool.queued--;
    pthread_mutex_unlock(&pool.mu);
    lookup(q);
    q->call.fn = deliver;
    if (!net_call_submit(&q->call)) { /* the loop is gone: nobody wants the answer */
      if (q->ai) freeaddrinfo(q->ai);
      free(q);
    }
    pthread_mutex_lock(&pool.mu);
  }
}

/* With pool.mu held, before queueing one more: a thread for it unless an idle one is free. */
static int maybe_start_thread(void) {
  if (pool.idle > pool.queued || pool.threads >= DNS_MAX_THREADS) return 0;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024); /* getaddrinfo and NSS modules fit easily */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int rc = pthread_create(&t, &attr, worker, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) return pool.threads > 0 ? 0 : -1; /* the existing ones will get to it */
  pthread_setname_np(t, "wisp-dns");
  pool.threads++;
  return 0;
}

int dns_resolve(const char *host, uint16_t port, uint64_t owner, dns_done_fn done) {
  size_t n = strlen(host);
  dns_query *q = calloc(1, sizeof *q + n + 1);
  if (!q) return -1;
  memcpy(q->host, host, n + 1);
  q->port = port;
  q->owner = owner;
  q->done = done;
  pthread_mutex_lock(&pool.mu);
  if (maybe_start_thread() < 0) {
    pthread_mutex_unlock(&pool.mu);
    free(q);
    return -1;
  }
  if (pool.tail) pool.tail->next = q;
  else pool.head = q;
  pool.tail = q;
  pool.queued++;
  pthread_cond_signal(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  return 0;
}
