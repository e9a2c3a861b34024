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
 *  - per fd at most one op waits on the read side (nb_poll with POLLIN, nb_read) and one on the
 *    write side (nb_poll with POLLOUT, nb_write); a second one gets -EBUSY. Batching writes
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
 * Sockets (the WebSocket connections) extend this with the same op/callback contract; what
 * exists today already carries them:
 *  - connect: nb_poll(POLLOUT) on a non-blocking connect() in progress, then
 *    getsockopt(SO_ERROR). (A native IORING_OP_CONNECT may replace it in the ring backend.)
 *    DNS runs off the loop and arrives as a command; deadlines are timer-wheel entries.
 *  - receive with provided buffers, to be added as
 *      int nb_bufs_setup(nb_backend *b, unsigned count, unsigned size);
 *      int nb_recv(nb_backend *b, nb_op *op, int fd);   (multishot)
 *      void *nb_buf(nb_backend *b, unsigned id);  void nb_buf_return(nb_backend *b, unsigned id);
 *    io_uring: a registered buffer ring and IORING_OP_RECV with IOSQE_BUFFER_SELECT, multishot;
 *    epoll: a backend-owned pool, read() into a free buffer on readiness. Each completion has
 *    flags = NB_F_BUFFER | id << 16, plus NB_F_MORE while the op stays armed; res = bytes, 0 at
 *    end of stream, -ENOBUFS when the pool ran dry (the op is then disarmed). Back-pressure
 *    (a full channel) = cancel or do not re-arm, and keep the buffers until consumed. Until
 *    then nb_read into a per-connection buffer does the same job with one copy.
 *  - send: one op per connection covering the whole pending write queue, gathered once per
 *    loop turn (nb_write on a flattened buffer now; an nb_writev(iovec) with the same rules
 *    later), resubmitted for the rest after a short write.
 *  - TLS: wolfSSL's I/O callbacks read from and append to those connection buffers, never
 *    the fd, so TLS is the same on both backends. */
#ifndef WISP_NET_BACKEND_H
#define WISP_NET_BACKEND_H
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

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
  uint16_t events;
  uint8_t kind;   /* enum nb_kind in the backends; 0 when idle */
  uint8_t state;
};

typedef struct nb_vtable {
  const char *name;
  int (*poll)(nb_backend *b, nb_op *op, int fd, uint32_t events);
  int (*read)(nb_backend *b, nb_op *op, int fd, void *buf, size_t len);
  int (*write)(nb_backend *b, nb_op *op, int fd, const void *buf, size_t len);
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
