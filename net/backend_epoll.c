/* net/backend_epoll.c — the epoll backend (see backend.h): completions emulated on readiness.
 *
 * Per fd a slot holds the op waiting on the read side and the one on the write side. Interest
 * is level-triggered and follows the waiting ops, but changes are only recorded (dirty list)
 * and applied in one pass before epoll_wait, so an op completed and resubmitted within one
 * turn costs no epoll_ctl; an fd with nothing waiting is removed from the set so that a hung-up
 * socket cannot spin the loop. Reads wait for readiness; writes are tried at once (sockets are
 * usually writable) and wait only after EAGAIN. Finished ops go to a FIFO and their callbacks
 * run at the end of nb_wait, never inside a submission. Regular files, which epoll refuses
 * (EPERM), are always ready: their I/O is done on the spot. Receives take a buffer from a
 * free list over one lazily mapped pool only when readiness says data is there, and give it
 * back at once on EAGAIN, so waiting receives hold no buffer. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include "net/backend.h"

enum { K_IDLE = 0, K_POLL, K_READ, K_WRITE, K_RECV, K_SENDMSG };
enum { ST_WAITING = 1, ST_DONE = 2 };

#define NB_MAX_IO (1u << 30)
#define NB_EVENTS 256
#define RD_EVENTS (EPOLLIN | EPOLLRDHUP)

typedef struct fd_slot {
  nb_op *rd, *wr;
  uint32_t registered; /* events in the epoll set; 0 = not in the set */
  bool dirty;
} fd_slot;

typedef struct nb_epoll {
  nb_backend base;
  int epfd;
  bool no_pwait2; /* kernel without epoll_pwait2: millisecond timeouts, rounded up */
  fd_slot *fds;
  size_t nfds;
  int *dirty;
  size_t ndirty, capdirty;
  nb_op *done_head, *done_tail;
  uint8_t *pool;                /* NB_BUF_COUNT * NB_BUF_SIZE, mapped on the first receive */
  uint16_t free_ids[NB_BUF_COUNT];
  unsigned nfree;
  struct epoll_event events[NB_EVENTS];
} nb_epoll;

static fd_slot *slot_of(nb_epoll *e, int fd) {
  if ((size_t)fd >= e->nfds) {
    size_t n = e->nfds ? e->nfds : 64;
    while (n <= (size_t)fd) n *= 2;
    fd_slot *f = realloc(e->fds, n * sizeof *f);
    if (!f) return NULL;
    memset(f + e->nfds, 0, (n - e->nfds) * sizeof *f);
    e->fds = f;
    e->nfds = n;
  }
  return &e->fds[fd];
}

static int mark_dirty(nb_epoll *e, int fd) {
  fd_slot *s = &e->fds[fd];
  if (s->dirty) return 0;
  if (e->ndirty == e->capdirty) {
    size_t n = e->capdirty ? e->capdirty * 2 : 64;
    int *d = realloc(e->dirty, n * sizeof *d);
    if (!d) return -ENOMEM;
    e->dirty = d;
    e->capdirty = n;
  }
  e->dirty[e->ndirty++] = fd;
  s->dirty = true;
  return 0;
}

static void finish(nb_epoll *e, nb_op *op, int32_t res) {
  op->res = res;
  if (op->kind != K_RECV || res <= 0) op->cflags = 0;
  op->state = ST_DONE;
  op->next = NULL;
  if (e->done_tail) e->done_tail->next = op;
  else e->done_head = op;
  e->done_tail = op;
}

/* Removes a waiting op from its fd's slot. */
static void detach(nb_epoll *e, nb_op *op) {
  fd_slot *s = &e->fds[op->fd];
  if (s->rd == op) s->rd = NULL;
  if (s->wr == op) s->wr = NULL;
  mark_dirty(e, op->fd); /* on ENOMEM the stale interest only costs a spurious wake-up */
}

/* Tries op's I/O now. True when it finished (queued with its result). */
static bool attempt(nb_epoll *e, nb_op *op, uint32_t ready) {
  ssize_t n;
  if (op->kind == K_POLL) {
    uint32_t got = ready & ((uint32_t)op->events | POLLERR | POLLHUP);
    if (!got) return false;
    finish(e, op, (int32_t)got);
    return true;
  }
  if (op->kind == K_RECV) {
    if (!e->nfree) {
      finish(e, op, -ENOBUFS);
      return true;
    }
    unsigned id = e->free_ids[--e->nfree];
    do {
      n = recv(op->fd, e->pool + (size_t)id * NB_BUF_SIZE, NB_BUF_SIZE, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      e->free_ids[e->nfree++] = (uint16_t)id;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    } else {
      op->cflags = NB_F_BUFFER | id << 16;
    }
    finish(e, op, n < 0 ? -errno : (int32_t)n);
    return true;
  }
  do {
    if (op->kind == K_READ) n = read(op->fd, op->buf, op->len);
    else if (op->kind == K_SENDMSG) n = sendmsg(op->fd, op->buf, MSG_NOSIGNAL | MSG_DONTWAIT);
    else n = write(op->fd, op->buf, op->len);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  finish(e, op, n < 0 ? -errno : (int32_t)n);
  return true;
}

static int start(nb_epoll *e, nb_op *op, int kind, int fd, void *buf, size_t len, uint32_t events) {
  if (op->kind != K_IDLE) return -EBUSY;
  if (fd < 0) return -EBADF;
  fd_slot *s = slot_of(e, fd);
  if (!s) return -ENOMEM;
  bool rd = kind == K_READ || kind == K_RECV || (kind == K_POLL && (events & POLLIN));
  bool wr = kind == K_WRITE || kind == K_SENDMSG || (kind == K_POLL && (events & POLLOUT));
  if ((rd && s->rd) || (wr && s->wr)) return -EBUSY;
  op->kind = (uint8_t)kind;
  op->fd = fd;
  op->buf = buf;
  op->len = len > NB_MAX_IO ? NB_MAX_IO : (uint32_t)len;
  op->events = (uint16_t)events;
  op->next = NULL;
  op->cflags = 0;
  if ((kind == K_WRITE || kind == K_SENDMSG) && attempt(e, op, 0)) return 0;
  int rc = mark_dirty(e, fd);
  if (rc < 0) {
    op->kind = K_IDLE;
    return rc;
  }
  op->state = ST_WAITING;
  if (rd) s->rd = op;
  if (wr) s->wr = op;
  return 0;
}

static int e_poll(nb_backend *b, nb_op *op, int fd, uint32_t events) {
  if (!events || (events & ~(uint32_t)(POLLIN | POLLOUT))) return -EINVAL;
  return start((nb_epoll *)b, op, K_POLL, fd, NULL, 0, events);
}

static int e_read(nb_backend *b, nb_op *op, int fd, void *buf, size_t len) {
  return start((nb_epoll *)b, op, K_READ, fd, buf, len, 0);
}

static int e_write(nb_backend *b, nb_op *op, int fd, const void *buf, size_t len) {
  return start((nb_epoll *)b, op, K_WRITE, fd, (void *)buf, len, 0);
}

static int e_recv(nb_backend *b, nb_op *op, int fd) {
  nb_epoll *e = (nb_epoll *)b;
  if (!e->pool) {
    void *p = mmap(NULL, (size_t)NB_BUF_COUNT * NB_BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (p == MAP_FAILED) return -ENOMEM;
    e->pool = p;
    for (unsigned i = 0; i < NB_BUF_COUNT; i++) e->free_ids[i] = (uint16_t)(NB_BUF_COUNT - 1 - i);
    e->nfree = NB_BUF_COUNT;
  }
  return start(e, op, K_RECV, fd, NULL, 0, 0);
}

static int e_sendmsg(nb_backend *b, nb_op *op, int fd, struct msghdr *msg) {
  return start((nb_epoll *)b, op, K_SENDMSG, fd, msg, 0, 0);
}

static void *e_buf(nb_backend *b, unsigned id) {
  return ((nb_epoll *)b)->pool + (size_t)id * NB_BUF_SIZE;
}

static void e_buf_return(nb_backend *b, unsigned id) {
  nb_epoll *e = (nb_epoll *)b;
  if (id < NB_BUF_COUNT && e->nfree < NB_BUF_COUNT) e->free_ids[e->nfree++] = (uint16_t)id;
}

static int e_cancel(nb_backend *b, nb_op *op) {
  nb_epoll *e = (nb_epoll *)b;
  if (op->kind == K_IDLE) return -ENOENT;
  if (op->state == ST_WAITING) {
    detach(e, op);
    finish(e, op, -ECANCELED);
  }
  return 0;
}

static int e_forget_fd(nb_backend *b, int fd) {
  nb_epoll *e = (nb_epoll *)b;
  if (fd < 0) return -EBADF;
  if ((size_t)fd >= e->nfds) return 0;
  fd_slot *s = &e->fds[fd];
  if (s->rd || s->wr) return -EBUSY;
  if (s->registered) epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
  s->registered = 0;
  return 0;
}

/* Runs the ready side(s) of one fd. */
static void on_ready(nb_epoll *e, int fd, uint32_t ready) {
  fd_slot *s = &e->fds[fd];
  nb_op *op = s->rd;
  if (op && (ready & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) && attempt(e, op, ready))
    detach(e, op);
  op = s->wr; /* re-read: a poll op for both sides is gone now */
  if (op && (ready & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && attempt(e, op, ready)) detach(e, op);
}

/* Fails every op waiting on fd (epoll_ctl refused it). */
static void fail_fd(nb_epoll *e, int fd, int err) {
  fd_slot *s = &e->fds[fd];
  nb_op *ops[2] = {s->rd, s->wr};
  s->rd = s->wr = NULL;
  for (int i = 0; i < 2; i++)
    if (ops[i] && (i == 0 || ops[i] != ops[0])) finish(e, ops[i], -err);
}

/* Applies the recorded interest changes. */
static void flush_interest(nb_epoll *e) {
  for (size_t i = 0; i < e->ndirty; i++) {
    int fd = e->dirty[i];
    fd_slot *s = &e->fds[fd];
    s->dirty = false;
    uint32_t want = (s->rd ? RD_EVENTS : 0) | (s->wr ? EPOLLOUT : 0);
    if (want == s->registered) continue;
    if (!want) {
      epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL); /* fails harmlessly if fd was closed */
      s->registered = 0;
      continue;
    }
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = s->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(e->epfd, op, fd, &ev);
    if (rc < 0 && errno == ENOENT && op == EPOLL_CTL_MOD) /* fd was closed and reused */
      rc = epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && errno == EEXIST)
      rc = epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc == 0) {
      s->registered = want;
    } else if (errno == EPERM) {
      s->registered = 0;
      on_ready(e, fd, EPOLLIN | EPOLLOUT); /* regular file: always ready */
      if (s->rd || s->wr) fail_fd(e, fd, EAGAIN);
    } else {
      s->registered = 0;
      fail_fd(e, fd, errno);
    }
  }
  e->ndirty = 0;
}

static int e_wait(nb_backend *b, int64_t timeout_ns) {
  nb_epoll *e = (nb_epoll *)b;
  flush_interest(e);
  if (e->done_head) timeout_ns = 0;
  int n = 0;
  if (!e->no_pwait2) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tsp = &ts;
    }
    n = epoll_pwait2(e->epfd, e->events, NB_EVENTS, tsp, NULL);
    if (n < 0 && errno == ENOSYS) e->no_pwait2 = true;
  }
  if (e->no_pwait2) {
    int ms = timeout_ns < 0 ? -1
             : timeout_ns > (int64_t)86400 * 1000000000 ? 86400 * 1000
             : (int)((timeout_ns + 999999) / 1000000);
    n = epoll_wait(e->epfd, e->events, NB_EVENTS, ms);
  }
  if (n < 0 && errno != EINTR) return -errno;
  for (int i = 0; i < n; i++) {
    int fd = e->events[i].data.fd;
    if ((size_t)fd < e->nfds) on_ready(e, fd, e->events[i].events);
  }
  /* Run the callbacks of what finished so far; completions they cause wait for the next turn. */
  nb_op *op = e->done_head;
  e->done_head = e->done_tail = NULL;
  int ran = 0;
  while (op) {
    nb_op *next = op->next;
    uint32_t flags = op->cflags;
    op->kind = K_IDLE;
    op->state = 0;
    op->next = NULL;
    op->cflags = 0;
    op->cb(op, op->res, flags);
    ran++;
    op = next;
  }
  return ran;
}

static void e_close(nb_backend *b) {
  nb_epoll *e = (nb_epoll *)b;
  close(e->epfd);
  if (e->pool) munmap(e->pool, (size_t)NB_BUF_COUNT * NB_BUF_SIZE);
  free(e->fds);
  free(e->dirty);
  free(e);
}

static const nb_vtable epoll_vt = {"epoll", e_poll, e_read, e_write, e_recv, e_sendmsg,
                                   e_buf, e_buf_return, e_cancel, e_forget_fd, e_wait, e_close};

nb_backend *nb_epoll_open(char *err, size_t errlen) {
  nb_epoll *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  e->base.vt = &epoll_vt;
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) {
    snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
    free(e);
    return NULL;
  }
  return &e->base;
}
