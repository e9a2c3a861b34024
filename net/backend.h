/* net/backend.h — the I/O backend under the net loop: one completion-based interface with two
 * implementations, io_uring (backend_uring.c) and epoll (backend_epoll.c).
 *
 * Model. The caller owns an nb_op, sets op->cb and submits it; the backend calls op->cb exactly
 * once per accepted submission, always later, from inside nb_wait (never from the submitting
 * call), with res = the operation's result or -errno. The op must stay valid and must not be
 * resubmitted until its callback has started; the callback may resubmit it, submit others,
 * cancel others and free it. A submission that returns -errno was not accepted and gets no
 * callback. The epoll backend emulates completions: it waits for readiness, performs the I/O
 * itself and retries on EAGAIN, so the caller never sees EAGAIN from either backend.
 *
 * Rules that keep both backends equal and cheap:
 *  - fds are non-blocking (O_NONBLOCK) and owned by the caller; every backend call happens on
 *    the thread that opened the backend (the io_uring one is a single-issuer ring);
 *  - per fd at most one op waits on the read side (nb_poll with POLLIN, nb_read, nb_recv) and
 *    one on the write side (nb_poll with POLLOUT, nb_write, nb_sendmsg); a second one gets
 *    -EBUSY (epoll; the ring does not check, callers keep to the rule). Batching writes
 *    into one op is the caller's job (one write queue per connection);
 *  - results are like the syscalls': reads return 0 at end of stream, reads and writes may be
 *    short; nb_poll completes with the ready mask (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP),
 *    level-triggered: at once if the fd is already ready;
 *  - nb_cancel asks an in-flight op to stop; it still gets its one callback, with -ECANCELED
 *    or with its real result if it completed first;
 *  - before closing an fd, let its ops finish (cancel them and wait for the callbacks), then
 *    call nb_forget_fd;
 *  - nb_close drops ops still in flight without calling them back: the owner frees them.
 *
 * Sockets (the WebSocket connections):
 *  - connect: nb_poll(POLLOUT) on a non-blocking connect() in progress, then
 *    getsockopt(SO_ERROR): one code path for both backends (IORING_OP_CONNECT would save
 *    nothing: the poll is a ring op too). DNS runs off the loop (net/dns.c) and arrives as a
 *    command; deadlines are entries of the loop's deadline wheel (netloop.h).
 *  - nb_recv: a receive into a buffer the backend picks from its pool of NB_BUF_COUNT buffers
 *    of NB_BUF_SIZE bytes when data is there, so an idle connection holds no receive buffer.
 *    io_uring: a registered buffer ring (IORING_REGISTER_PBUF_RING, kernel 5.19) and
 *    IORING_OP_RECV with IOSQE_BUFFER_SELECT; epoll: read() into a free pool buffer on
 *    readiness. One completion per submission (not multishot: back-pressure is exact, a
 *    connection out of read credit simply does not re-arm, and nothing is read ahead of it).
 *    res > 0: bytes in buffer flags >> 16 (NB_F_BUFFER set), which the caller hands back
 *    with nb_buf_return once it has taken the bytes (within the callback, to keep the pool
 *    full); 0 at end of stream; -ENOBUFS when the pool was empty (re-arm later).
 *  - nb_sendmsg: sendmsg(2) with MSG_NOSIGNAL (a peer that went away is EPIPE, never
 *    SIGPIPE); the gathered write of a connection's whole queue, once per loop turn. The
 *    msghdr, its iovecs and the bytes stay valid until the callback.
 *  - TLS: wolfSSL's I/O callbacks read from and append to the connection's buffers, never
 *    the fd, so TLS is the same on both backends. */
#ifndef WISP_NET_BACKEND_H
#define WISP_NET_BACKEND_H
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct nb_backend nb_backend;
typedef struct nb_op nb_op;

#define NB_F_MORE 1u   /* more completions will follow for this op (multishot) */
#define NB_F_BUFFER 2u /* a provided buffer was used; its id is flags >> 16 */

typedef void (*nb_cb)(nb_op *op, int32_t res, uint32_t flags);

struct nb_op {
  nb_cb cb;       /* set by the caller before submitting */
  /* Backend-private, valid while in flight. */
  nb_op *next;    /* epoll: completion queue */
  void *buf;
  uint32_t len;
  int32_t fd;
  int32_t res;
  uint32_t cflags; /* epoll: completion flags */
  uint16_t events;
  uint8_t kind;   /* enum nb_kind in the backends; 0 when idle */
  uint8_t state;
};

/* The receive buffer pool of a backend (see nb_recv). The io_uring ring needs a power of 2. */
#define NB_BUF_COUNT 128u
#define NB_BUF_SIZE 32768u

typedef struct nb_vtable {
  const char *name;
  int (*poll)(nb_backend *b, nb_op *op, int fd, uint32_t events);
  int (*read)(nb_backend *b, nb_op *op, int fd, void *buf, size_t len);
  int (*write)(nb_backend *b, nb_op *op, int fd, const void *buf, size_t len);
  int (*recv)(nb_backend *b, nb_op *op, int fd);
  int (*sendmsg)(nb_backend *b, nb_op *op, int fd, struct msghdr *msg);
  void *(*buf)(nb_backend *b, unsigned id);
  void (*buf_return)(nb_backend *b, unsigned id);
  int (*cancel)(nb_backend *b, nb_op *op);
  int (*forget_fd)(nb_backend *b, int fd);
  int (*wait)(nb_backend *b, int64_t timeout_ns);
  void (*close)(nb_backend *b);
} nb_vtable;

struct nb_backend {
  const nb_vtable *vt;
};

/* Constructors: NULL on failure with the reason in err (e.g. "io_uring_queue_init: Operation
 * not permitted"). entries sizes the io_uring submission queue. */
nb_backend *nb_uring_open(unsigned entries, char *err, size_t errlen);
nb_backend *nb_epoll_open(char *err, size_t errlen);

static inline const char *nb_name(const nb_backend *b) { return b->vt->name; }

/* Completes when fd is ready for any of `events` (POLLIN and/or POLLOUT). */
static inline int nb_poll(nb_backend *b, nb_op *op, int fd, uint32_t events) {
  return b->vt->poll(b, op, fd, events);
}
/* read(2)/write(2) semantics without EAGAIN; len is capped at 1 GiB per op. */
static inline int nb_read(nb_backend *b, nb_op *op, int fd, void *buf, size_t len) {
  return b->vt->read(b, op, fd, buf, len);
}
static inline int nb_write(nb_backend *b, nb_op *op, int fd, const void *buf, size_t len) {
  return b->vt->write(b, op, fd, buf, len);
}
/* Socket receive into a pool buffer; sendmsg with MSG_NOSIGNAL (see the file comment). */
static inline int nb_recv(nb_backend *b, nb_op *op, int fd) { return b->vt->recv(b, op, fd); }
static inline int nb_sendmsg(nb_backend *b, nb_op *op, int fd, struct msghdr *msg) {
  return b->vt->sendmsg(b, op, fd, msg);
}
/* The bytes of pool buffer id (NB_BUF_SIZE of them), and its return to the pool. */
static inline void *nb_buf(nb_backend *b, unsigned id) { return b->vt->buf(b, id); }
static inline void nb_buf_return(nb_backend *b, unsigned id) { b->vt->buf_return(b, id); }
/* 0 when a cancellation was started or the op is already completing; -ENOENT when idle. */
static inline int nb_cancel(nb_backend *b, nb_op *op) { return b->vt->cancel(b, op); }
/* Drops the backend's state for an fd with no op in flight; call before close(fd). */
static inline int nb_forget_fd(nb_backend *b, int fd) { return b->vt->forget_fd(b, fd); }
/* Submits what is queued, sleeps until at least one completion or timeout_ns (< 0: no limit,
 * 0: do not sleep), then runs every available callback. Returns the number of callbacks run
 * (0 on timeout or signal), or -errno when the backend itself failed. */
static inline int nb_wait(nb_backend *b, int64_t timeout_ns) { return b->vt->wait(b, timeout_ns); }
static inline void nb_close(nb_backend *b) { b->vt->close(b); }

#endif
