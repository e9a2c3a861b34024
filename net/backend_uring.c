/* net/backend_uring.c — the io_uring backend (see backend.h).
 *
 * One ring per backend, created by the thread that uses it: single issuer, task work deferred to
 * our own io_uring_enter calls (no interrupts of the loop thread), no SQPOLL. An op's
 * user_data is the nb_op pointer; user_data 0 marks SQEs whose completions are ignored
 * (cancellations). Submissions queue in the SQ and reach the kernel in one io_uring_enter per
 * nb_wait, or earlier when the SQ is full. If a read or write ever completes with -EAGAIN (a
 * file type without non-blocking retry inside io_uring), the op arms a one-shot poll and
 * retries, so callers never see EAGAIN. Receives pick their buffer from a registered
 * provided-buffer ring (group 0), refilled by nb_buf_return; a ring that cannot be registered
 * (kernel before 5.19) makes the backend unavailable, so the loop falls back to epoll. */
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "net/backend.h"

enum { K_IDLE = 0, K_POLL, K_READ, K_WRITE, K_RECV, K_SENDMSG };
enum { ST_REPOLL = 1, ST_CANCEL = 2 };

#define NB_MAX_IO (1u << 30)
#define NB_CQE_BATCH 64

#define BUF_GROUP 0

typedef struct nb_uring {
  nb_backend base;
  struct io_uring ring;
  /* the receive pool: NB_BUF_COUNT buffers registered as a provided-buffer ring; untouched
     pages cost no memory until a receive lands in them */
  struct io_uring_buf_ring *br;
  size_t br_size;
  uint8_t *pool;
} nb_uring;

static struct io_uring_sqe *get_sqe(nb_uring *u) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
  if (!sqe) {
    io_uring_submit(&u->ring); /* SQ full: hand the batch to the kernel now */
    sqe = io_uring_get_sqe(&u->ring);
  }
  return sqe;
}

/* Queues the SQE that performs op's operation. */
static int issue(nb_uring *u, nb_op *op) {
  struct io_uring_sqe *sqe = get_sqe(u);
  if (!sqe) return -EBUSY;
  switch (op->kind) {
  case K_POLL: io_uring_prep_poll_add(sqe, op->fd, op->events); break;
  case K_READ: io_uring_prep_read(sqe, op->fd, op->buf, op->len, (uint64_t)-1); break;
  case K_RECV:
    io_uring_prep_recv(sqe, op->fd, NULL, NB_BUF_SIZE, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    break;
  case K_SENDMSG: io_uring_prep_sendmsg(sqe, op->fd, op->buf, MSG_NOSIGNAL); break;
  default: io_uring_prep_write(sqe, op->fd, op->buf, op->len, (uint64_t)-1); break;
  }
  io_uring_sqe_set_data(sqe, op);
  return 0;
}

static int start(nb_uring *u, nb_op *op, int kind, int fd, void *buf, size_t len, uint32_t events) {
  if (op->kind != K_IDLE) return -EBUSY;
  if (fd < 0) return -EBADF;
  op->kind = (uint8_t)kind;
  op->state = 0;
  op->fd = fd;
  op->buf = buf;
  op->len = len > NB_MAX_IO ? NB_MAX_IO : (uint32_t)len;
  op->events = (uint16_t)events;
  op->next = NULL;
  int rc = issue(u, op);
  if (rc < 0) op->kind = K_IDLE;
  return rc;
}

static int u_poll(nb_backend *b, nb_op *op, int fd, uint32_t events) {
  if (!events || (events & ~(uint32_t)(POLLIN | POLLOUT))) return -EINVAL;
  return start((nb_uring *)b, op, K_POLL, fd, NULL, 0, events);
}

static int u_read(nb_backend *b, nb_op *op, int fd, void *buf, size_t len) {
  return start((nb_uring *)b, op, K_READ, fd, buf, len, 0);
}

static int u_write(nb_backend *b, nb_op *op, int fd, const void *buf, size_t len) {
  return start((nb_uring *)b, op, K_WRITE, fd, (void *)buf, len, 0);
}

static int u_recv(nb_backend *b, nb_op *op, int fd) {
  return start((nb_uring *)b, op, K_RECV, fd, NULL, 0, 0);
}

static int u_sendmsg(nb_backend *b, nb_op *op, int fd, struct msghdr *msg) {
  return start((nb_uring *)b, op, K_SENDMSG, fd, msg, 0, 0);
}

static void *u_buf(nb_backend *b, unsigned id) {
  return ((nb_uring *)b)->pool + (size_t)id * NB_BUF_SIZE;
}

static void u_buf_return(nb_backend *b, unsigned id) {
  nb_uring *u = (nb_uring *)b;
  io_uring_buf_ring_add(u->br, u->pool + (size_t)id * NB_BUF_SIZE, NB_BUF_SIZE, (unsigned short)id,
                        io_uring_buf_ring_mask(NB_BUF_COUNT), 0);
  io_uring_buf_ring_advance(u->br, 1);
}

static int u_cancel(nb_backend *b, nb_op *op) {
  nb_uring *u = (nb_uring *)b;
  if (op->kind == K_IDLE) return -ENOENT;
  if (op->state & ST_CANCEL) return 0;
  struct io_uring_sqe *sqe = get_sqe(u);
  if (!sqe) return -EBUSY;
  io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
  io_uring_sqe_set_data64(sqe, 0);
  op->state |= ST_CANCEL;
  return 0;
}

static int u_forget_fd(nb_backend *b, int fd) { return fd < 0 ? -EBADF : 0; }

/* One CQE for op: either a step of the EAGAIN retry or the op's final result. */
static bool complete(nb_uring *u, nb_op *op, int32_t res, uint32_t cflags) {
  if (op->state & ST_REPOLL) {
    op->state &= (uint8_t)~ST_REPOLL;
    if (res >= 0 && !(op->state & ST_CANCEL)) {
      if (issue(u, op) == 0) return false;
      res = -EBUSY;
    } else if (res >= 0) {
      res = -ECANCELED;
    }
  } else if (res == -EAGAIN && op->kind != K_POLL) {
    if (op->state & ST_CANCEL) {
      res = -ECANCELED;
    } else {
      struct io_uring_sqe *sqe = get_sqe(u);
      if (sqe) {
        bool rd = op->kind == K_READ || op->kind == K_RECV;
        io_uring_prep_poll_add(sqe, op->fd, rd ? POLLIN : POLLOUT);
        io_uring_sqe_set_data(sqe, op);
        op->state |= ST_REPOLL;
        return false;
      }
      res = -EBUSY;
    }
  }
  uint32_t flags = cflags & IORING_CQE_F_MORE ? NB_F_MORE : 0;
  if (cflags & IORING_CQE_F_BUFFER)
    flags |= NB_F_BUFFER | (cflags >> IORING_CQE_BUFFER_SHIFT) << 16;
  op->kind = K_IDLE;
  op->state = 0;
  op->cb(op, res, flags);
  return true;
}

static int u_wait(nb_backend *b, int64_t timeout_ns) {
  nb_uring *u = (nb_uring *)b;
  int rc;
  if (io_uring_cq_ready(&u->ring)) {
    rc = io_uring_submit(&u->ring); /* completions already waiting: do not sleep */
  } else {
    struct __kernel_timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tsp = &ts;
    }
    struct io_uring_cqe *cqe;
    rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, tsp, NULL);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return rc;

  int ran = 0;
  for (;;) {
    struct io_uring_cqe *cqes[NB_CQE_BATCH];
    struct {
      uint64_t ud;
      int32_t res;
      uint32_t flags;
    } got[NB_CQE_BATCH];
    unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, NB_CQE_BATCH);
    if (!n) break;
    /* Copy and release the CQEs first: callbacks may submit, which may enter the kernel. */
    for (unsigned i = 0; i < n; i++) {
      got[i].ud = cqes[i]->user_data;
      got[i].res = cqes[i]->res;
      got[i].flags = cqes[i]->flags;
    }
    io_uring_cq_advance(&u->ring, n);
    for (unsigned i = 0; i < n; i++) {
      if (got[i].ud == 0 || got[i].ud == LIBURING_UDATA_TIMEOUT) continue;
      if (complete(u, (nb_op *)(uintptr_t)got[i].ud, got[i].res, got[i].flags)) ran++;
    }
    if (n < NB_CQE_BATCH) break;
  }
  return ran;
}

static void pool_free(nb_uring *u) {
  if (u->br) munmap(u->br, u->br_size);
  if (u->pool) munmap(u->pool, (size_t)NB_BUF_COUNT * NB_BUF_SIZE);
  u->br = NULL;
  u->pool = NULL;
}

/* Maps the pool and registers it as buffer group BUF_GROUP. 0, or -errno. */
static int pool_setup(nb_uring *u) {
  u->br_size = NB_BUF_COUNT * sizeof(struct io_uring_buf);
  void *br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  void *pool = mmap(NULL, (size_t)NB_BUF_COUNT * NB_BUF_SIZE, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  u->br = br == MAP_FAILED ? NULL : br;
  u->pool = pool == MAP_FAILED ? NULL : pool;
  if (!u->br || !u->pool) {
    pool_free(u);
    return -ENOMEM;
  }
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)u->br;
  reg.ring_entries = NB_BUF_COUNT;
  reg.bgid = BUF_GROUP;
  int rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
  if (rc < 0) {
    pool_free(u);
    return rc;
  }
  io_uring_buf_ring_init(u->br);
  for (unsigned i = 0; i < NB_BUF_COUNT; i++)
    io_uring_buf_ring_add(u->br, u->pool + (size_t)i * NB_BUF_SIZE, NB_BUF_SIZE, (unsigned short)i,
                          io_uring_buf_ring_mask(NB_BUF_COUNT), (int)i);
  io_uring_buf_ring_advance(u->br, NB_BUF_COUNT);
  return 0;
}

static void u_close(nb_backend *b) {
  nb_uring *u = (nb_uring *)b;
  io_uring_queue_exit(&u->ring); /* unregisters the buffer ring */
  pool_free(u);
  free(u);
}

static const nb_vtable uring_vt = {"io_uring", u_poll, u_read, u_write, u_recv, u_sendmsg,
                                   u_buf, u_buf_return, u_cancel, u_forget_fd, u_wait, u_close};

static int ring_init(struct io_uring *ring, unsigned entries, unsigned flags) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = flags | IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  return io_uring_queue_init_params(entries, ring, &p);
}

nb_backend *nb_uring_open(unsigned entries, char *err, size_t errlen) {
  nb_uring *u = calloc(1, sizeof *u);
  if (!u) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  u->base.vt = &uring_vt;
  if (entries < 8) entries = 8;
  /* Newest flags first; kernels that do not know one reject the set with EINVAL. */
  static const unsigned flag_sets[] = {
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int rc = -EINVAL;
  for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0] && rc == -EINVAL; i++)
    rc = ring_init(&u->ring, entries, flag_sets[i]);
  if (rc < 0) {
    snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-rc));
    free(u);
    return NULL;
  }
  const char *missing = NULL;
  if (!(u->ring.features & IORING_FEAT_NODROP)) missing = "IORING_FEAT_NODROP";
  else if (!(u->ring.features & IORING_FEAT_EXT_ARG)) missing = "IORING_FEAT_EXT_ARG";
  else if (!(u->ring.features & IORING_FEAT_RW_CUR_POS)) missing = "IORING_FEAT_RW_CUR_POS";
  struct io_uring_probe *probe = missing ? NULL : io_uring_get_probe_ring(&u->ring);
  if (!missing && !probe) missing = "IORING_REGISTER_PROBE";
  if (probe) {
    static const struct {
      int op;
      const char *name;
    } need[] = {{IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
                {IORING_OP_READ, "IORING_OP_READ"},
                {IORING_OP_WRITE, "IORING_OP_WRITE"},
                {IORING_OP_RECV, "IORING_OP_RECV"},
                {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
                {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"}};
    for (size_t i = 0; i < sizeof need / sizeof need[0] && !missing; i++)
      if (!io_uring_opcode_supported(probe, need[i].op)) missing = need[i].name;
    io_uring_free_probe(probe);
  }
  if (missing) {
    snprintf(err, errlen, "kernel lacks %s", missing);
    io_uring_queue_exit(&u->ring);
    free(u);
    return NULL;
  }
  rc = pool_setup(u);
  if (rc < 0) {
    snprintf(err, errlen, "cannot register the receive buffer ring (IORING_REGISTER_PBUF_RING): %s",
             strerror(-rc));
    io_uring_queue_exit(&u->ring);
    free(u);
    return NULL;
  }
  return &u->base;
}
