/* tests/unit/test_netloop.c — the I/O backends over a socketpair, then the net thread's timers
 * on each backend: order, never early, tickers, stop, closed mailboxes, 10,000 timers,
 * shutdown with timers pending, an idle loop that sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/clock.h"
#include "core/mailbox.h"
#include "net/backend.h"
#include "net/netloop.h"
#include "core/log.h"
#include "tests/unit/t.h"

#define MS 1000000ll

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* ---- backends ---- */

typedef struct probe {
  nb_op op;
  int calls;
  int32_t res;
} probe;

static void probe_cb(nb_op *op, int32_t res, uint32_t flags) {
  probe *p = (probe *)op;
  p->calls++;
  p->res = res;
}

/* Waits until p's callback ran (or ~2 s passed). */
static void wait_for(nb_backend *b, probe *p) {
  for (int i = 0; i < 200 && !p->calls; i++) nb_wait(b, 10 * MS);
}

static void socket_pair(int sv[2]) {
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Streams a pattern from sv[1] to sv[0] through chained write and read ops. */
typedef struct pump {
  nb_backend *b;
  nb_op wop, rop;
  int wfd, rfd;
  unsigned char *src, *dst;
  size_t total, sent, got;
  int errors;
  bool eof;
} pump;

static pump *pump_of_w(nb_op *op) { return (pump *)((char *)op - offsetof(pump, wop)); }
static pump *pump_of_r(nb_op *op) { return (pump *)((char *)op - offsetof(pump, rop)); }

static void pump_wrote(nb_op *op, int32_t res, uint32_t flags) {
  pump *p = pump_of_w(op);
  if (res <= 0) {
    p->errors++;
    return;
  }
  p->sent += (size_t)res;
  if (p->sent < p->total && nb_write(p->b, op, p->wfd, p->src + p->sent, p->total - p->sent) < 0)
    p->errors++;
  if (p->sent == p->total) shutdown(p->wfd, SHUT_WR);
}

static void pump_read(nb_op *op, int32_t res, uint32_t flags) {
  pump *p = pump_of_r(op);
  if (res < 0) {
    p->errors++;
    return;
  }
  if (res == 0) {
    p->eof = true;
    return;
  }
  p->got += (size_t)res;
  size_t room = p->total + 1 - p->got; /* one spare byte would catch overruns */
  if (nb_read(p->b, op, p->rfd, p->dst + p->got, room > 65536 ? 65536 : room) < 0) p->errors++;
}

static void backend_suite(nb_backend *b) {
  const char *name = nb_name(b);
  printf("backend suite: %s\n", name);
  fflush(stdout);
  int sv[2];
  socket_pair(sv);
  char buf[64];

  /* A fresh socket is writable at once. */
  probe pw = {.op.cb = probe_cb};
  CHECK_EQ(nb_poll(b, &pw.op, sv[0], POLLOUT), 0);
  CHECK_EQ(nb_poll(b, &pw.op, sv[0], POLLOUT), -EBUSY); /* op in flight */
  wait_for(b, &pw);
  CHECK_EQ(pw.calls, 1);
  CHECK(pw.res > 0 && (pw.res & POLLOUT));
  CHECK_EQ(nb_poll(b, &pw.op, sv[0], 0), -EINVAL);
  CHECK_EQ(nb_poll(b, &pw.op, -1, POLLIN), -EBADF);

  /* Readable only once data arrives; an empty wait runs nothing. */
  probe pr = {.op.cb = probe_cb};
  CHECK_EQ(nb_poll(b, &pr.op, sv[0], POLLIN), 0);
  /* A wait may end early on a signal (io_uring task work interrupts epoll_wait, too). */
  int64_t t0 = clock_mono_ns(), left_ns;
  while ((left_ns = t0 + 30 * MS - clock_mono_ns()) > 0) CHECK_EQ(nb_wait(b, left_ns), 0);
  CHECK_EQ(pr.calls, 0);
  CHECK_EQ(write(sv[1], "ping", 4), 4);
  wait_for(b, &pr);
  CHECK_EQ(pr.calls, 1);
  CHECK(pr.res & POLLIN);
  /* Level-triggered: still readable, so a new poll completes at once. */
  pr.calls = 0;
  CHECK_EQ(nb_poll(b, &pr.op, sv[0], POLLIN), 0);
  wait_for(b, &pr);
  CHECK(pr.calls == 1 && (pr.res & POLLIN));
  CHECK_EQ(read(sv[0], buf, sizeof buf), 4);

  /* Read op waits for data. */
  probe rd = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &rd.op, sv[0], buf, sizeof buf), 0);
  CHECK_EQ(nb_wait(b, 0), 0);
  CHECK_EQ(rd.calls, 0);
  CHECK_EQ(write(sv[1], "hello", 5), 5);
  wait_for(b, &rd);
  CHECK_EQ(rd.res, 5);
  CHECK(memcmp(buf, "hello", 5) == 0);

  /* Write op. */
  probe wr = {.op.cb = probe_cb};
  CHECK_EQ(nb_write(b, &wr.op, sv[0], "world", 5), 0);
  CHECK_EQ(wr.calls, 0); /* never called back from inside the submission */
  wait_for(b, &wr);
  CHECK_EQ(wr.res, 5);
  CHECK_EQ(read(sv[1], buf, sizeof buf), 5);
  CHECK(memcmp(buf, "world", 5) == 0);

  /* Cancel a waiting read; cancelling an idle op is refused. */
  probe cr = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &cr.op, sv[0], buf, sizeof buf), 0);
  CHECK_EQ(nb_wait(b, 0), 0);
  CHECK_EQ(nb_cancel(b, &cr.op), 0);
  wait_for(b, &cr);
  CHECK_EQ(cr.calls, 1);
  CHECK_EQ(cr.res, -ECANCELED);
  CHECK_EQ(nb_cancel(b, &cr.op), -ENOENT);
  /* The side is free again after the cancellation. */
  cr.calls = 0;
  CHECK_EQ(nb_read(b, &cr.op, sv[0], buf, sizeof buf), 0);
  CHECK_EQ(write(sv[1], "x", 1), 1);
  wait_for(b, &cr);
  CHECK_EQ(cr.res, 1);

  /* 4 MiB each way through short writes, EAGAIN and interest changes. */
  pump p = {.b = b, .total = 4u << 20};
  p.src = malloc(p.total);
  p.dst = malloc(p.total + 1);
  for (size_t i = 0; i < p.total; i++) p.src[i] = (unsigned char)(i * 131 + (i >> 13));
  p.wfd = sv[1];
  p.rfd = sv[0];
  p.wop.cb = pump_wrote;
  p.rop.cb = pump_read;
  CHECK_EQ(nb_read(b, &p.rop, p.rfd, p.dst, 65536), 0);
  CHECK_EQ(nb_write(b, &p.wop, p.wfd, p.src, p.total), 0);
  int64_t limit = clock_mono_ns() + 20000 * MS;
  while (!p.eof && !p.errors && clock_mono_ns() < limit) nb_wait(b, 100 * MS);
  CHECK_EQ(p.errors, 0);
  CHECK(p.eof);
  CHECK_EQ(p.sent, p.total);
  CHECK_EQ(p.got, p.total);
  CHECK(memcmp(p.src, p.dst, p.total) == 0);
  free(p.src);
  free(p.dst);

  /* Hang-up: a read completes with 0, a poll reports it. */
  close(sv[1]);
  probe eof = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &eof.op, sv[0], buf, sizeof buf), 0);
  wait_for(b, &eof);
  CHECK_EQ(eof.res, 0);
  probe hup = {.op.cb = probe_cb};
  CHECK_EQ(nb_poll(b, &hup.op, sv[0], POLLIN), 0);
  wait_for(b, &hup);
  CHECK(hup.calls == 1 && (hup.res & (POLLIN | POLLHUP)));
  CHECK_EQ(nb_wait(b, 0), 0); /* nothing left, and a hung-up fd does not spin */
  CHECK_EQ(nb_forget_fd(b, sv[0]), 0);
  close(sv[0]);

  /* The fd number, forgotten and reused, works for a new socket. */
  socket_pair(sv);
  probe again = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &again.op, sv[0], buf, sizeof buf), 0);
  CHECK_EQ(write(sv[1], "ok", 2), 2);
  wait_for(b, &again);
  CHECK_EQ(again.res, 2);

  /* A regular file (epoll refuses those) reads like anything else. */
  char path[] = "/tmp/wisp-nb-XXXXXX";
  int ffd = mkstemp(path);
  CHECK(ffd >= 0);
  unlink(path);
  CHECK_EQ(write(ffd, "file", 4), 4);
  lseek(ffd, 0, SEEK_SET);
  probe fr = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &fr.op, ffd, buf, sizeof buf), 0);
  wait_for(b, &fr);
  CHECK_EQ(fr.res, 4);
  nb_forget_fd(b, ffd);
  close(ffd);

  /* An op still in flight at close is dropped without a callback. */
  probe left = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &left.op, sv[0], buf, sizeof buf), 0);
  nb_close(b);
  CHECK_EQ(left.calls, 0);
  close(sv[0]);
  close(sv[1]);
}

static bool uring_available;

static void test_backend_uring(void) {
  char err[256];
  nb_backend *b = nb_uring_open(64, err, sizeof err);
  uring_available = b != NULL;
  if (!b) {
    printf("io_uring unavailable in this sandbox (%s): only epoll is tested\n", err);
    return;
  }
  backend_suite(b);
}

static void test_backend_epoll(void) {
  char err[256];
  nb_backend *b = nb_epoll_open(err, sizeof err);
  CHECK(b != NULL);
  if (b) backend_suite(b);
  else printf("epoll_open failed: %s\n", err);
}

/* Only one op per side of an fd in epoll; io_uring has no such limit but callers obey it. */
static void test_epoll_side_rule(void) {
  char err[256];
  nb_backend *b = nb_epoll_open(err, sizeof err);
  int sv[2];
  socket_pair(sv);
  char buf[8];
  probe a = {.op.cb = probe_cb}, c = {.op.cb = probe_cb};
  CHECK_EQ(nb_read(b, &a.op, sv[0], buf, sizeof buf), 0);
  CHECK_EQ(nb_poll(b, &c.op, sv[0], POLLIN), -EBUSY);
  CHECK_EQ(nb_poll(b, &c.op, sv[0], POLLOUT), 0);
  CHECK_EQ(nb_forget_fd(b, sv[0]), -EBUSY);
  wait_for(b, &c);
  CHECK(c.res & POLLOUT);
  nb_cancel(b, &a.op);
  wait_for(b, &a);
  CHECK_EQ(a.res, -ECANCELED);
  CHECK_EQ(nb_forget_fd(b, sv[0]), 0);
  nb_close(b);
  close(sv[0]);
  close(sv[1]);
}

/* ---- net thread timers ---- */

typedef struct sink {
  mailbox mb;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} sink;

static void sink_notify(mailbox *mb) {
  sink *s = (sink *)mb;
  pthread_mutex_lock(&s->mu);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void sink_init(sink *s) {
  mbox_init(&s->mb, sink_notify, NULL);
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
}

static void sink_destroy(sink *s) {
  mbox_discard_all(&s->mb);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
}

/* The next entry, or NULL after timeout_ms. */
static mbox_entry *sink_take(sink *s, int timeout_ms) {
  int64_t until = clock_mono_ns() + (int64_t)timeout_ms * MS;
  struct timespec ts = {until / 1000000000, until % 1000000000};
  pthread_mutex_lock(&s->mu);
  mbox_entry *e;
  while ((e = mbox_take(&s->mb)) == NULL)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) {
      e = mbox_take(&s->mb);
      break;
    }
  pthread_mutex_unlock(&s->mu);
  return e;
}

static int refs(sink *s) { return atomic_load(&s->mb.refs); }

/* Waits up to 2 s for the loop to drop its references. */
static bool refs_settle(sink *s, int want) {
  for (int i = 0; i < 400 && refs(s) != want; i++) sleep_ms(5);
  return refs(s) == want;
}

static int64_t fired_at(const mbox_entry *e) {
  int64_t v;
  memcpy(&v, e->data, sizeof v);
  return v;
}

static void timers_in_order(void) {
  sink s;
  sink_init(&s);
  static const int delays_ms[] = {50, 10, 5};
  uint64_t ids[3];
  int64_t u0 = clock_unix_ns(), m0 = clock_mono_ns();
  for (int i = 0; i < 3; i++) {
    ids[i] = net_new_id();
    net_timer_start(ids[i], &s.mb, 100 + (uint64_t)i, delays_ms[i] * MS, 0);
  }
  CHECK(refs(&s) >= 1);
  int expect[3] = {2, 1, 0}; /* 5 ms, 10 ms, 50 ms */
  for (int k = 0; k < 3; k++) {
    mbox_entry *e = sink_take(&s, 3000);
    CHECK(e != NULL);
    if (!e) break;
    int64_t m = clock_mono_ns();
    int i = expect[k];
    CHECK_EQ(e->kind, MB_TIMER);
    CHECK_EQ(e->arg, ids[i]);
    CHECK_EQ(e->target, 100 + i);
    CHECK_EQ(e->len, sizeof(int64_t));
    int64_t delay = delays_ms[i] * MS;
    CHECK(fired_at(e) - u0 >= delay);
    CHECK(m - m0 >= delay);
    CHECK(m - m0 < delay + 1000 * MS); /* generous: sanitizers, a loaded CI machine */
    mbox_entry_free(e);
  }
  CHECK(refs_settle(&s, 1));
  sink_destroy(&s);
}

static void ticker_runs_and_stops(void) {
  sink s;
  sink_init(&s);
  uint64_t id = net_new_id();
  int64_t m0 = clock_mono_ns();
  net_timer_start(id, &s.mb, 7, 10 * MS, 10 * MS);
  int64_t prev = 0;
  for (int k = 1; k <= 5; k++) {
    mbox_entry *e = sink_take(&s, 3000);
    CHECK(e != NULL);
    if (!e) break;
    int64_t m = clock_mono_ns();
    CHECK_EQ(e->arg, id);
    CHECK(m - m0 >= k * 10 * MS); /* tick k is never before its multiple of the period */
    CHECK(fired_at(e) > prev);
    prev = fired_at(e);
    mbox_entry_free(e);
  }
  CHECK_EQ(refs(&s), 2);
  net_timer_stop(id);
  CHECK(refs_settle(&s, 1));
  mbox_discard_all(&s.mb); /* a tick posted just before the stop may be there */
  mbox_entry *late = sink_take(&s, 60);
  CHECK(late == NULL);
  if (late) mbox_entry_free(late);
  net_timer_stop(id); /* stopping again is a no-op */
  sink_destroy(&s);
}

/* The loop stalls for 50 ms inside the first post (this mailbox's notify hook sleeps): the
 * ticks it missed are skipped, not posted in a burst afterwards. Skipping makes it certain that
 * any three consecutive posts span more than one period (each re-arm lies after the post that
 * made it), whatever the load; a burst would post several in one turn. */
static _Atomic bool stall_once;
static void stalling_notify(mailbox *mb) {
  if (atomic_exchange(&stall_once, false)) sleep_ms(50);
  sink_notify(mb);
}

static void ticker_skips_missed_ticks(void) {
  enum { PERIOD_MS = 5, MAXN = 200 };
  sink s;
  sink_init(&s);
  s.mb.notify = stalling_notify;
  atomic_store(&stall_once, true);
  uint64_t id = net_new_id();
  int64_t m0 = clock_mono_ns();
  net_timer_start(id, &s.mb, 1, PERIOD_MS * MS, PERIOD_MS * MS);
  sleep_ms(120);
  net_timer_stop(id);
  CHECK(refs_settle(&s, 1));
  int64_t elapsed = clock_mono_ns() - m0;
  int64_t at[MAXN];
  int n = 0;
  mbox_entry *e;
  while ((e = mbox_take(&s.mb)) != NULL) {
    if (n < MAXN) at[n++] = fired_at(e);
    mbox_entry_free(e);
  }
  CHECK(n >= 3);
  CHECK(n <= elapsed / (PERIOD_MS * MS) + 1);
  CHECK(n < 2 || at[1] - at[0] >= 50 * MS); /* the tick after the stall */
  int bursts = 0;
  for (int k = 0; k + 2 < n; k++)
    if (at[k + 2] - at[k] <= (PERIOD_MS - 1) * MS) bursts++;
  CHECK_EQ(bursts, 0);
  sink_destroy(&s);
}

static void closed_mailbox_drops_ticker(void) {
  sink s;
  sink_init(&s);
  int before = refs(&s);
  uint64_t id = net_new_id();
  net_timer_start(id, &s.mb, 3, 2 * MS, 2 * MS);
  mbox_entry *e = sink_take(&s, 3000);
  CHECK(e != NULL);
  if (e) mbox_entry_free(e);
  mbox_close(&s.mb);
  CHECK(refs_settle(&s, before));
  mbox_discard_all(&s.mb);
  sink_destroy(&s);
}

static void many_timers(void) {
  enum { N = 10000 };
  sink s;
  sink_init(&s);
  uint64_t *ids = malloc(N * sizeof *ids);
  int64_t *due_unix = malloc(N * sizeof *due_unix);
  unsigned char *seen = calloc(N, 1);
  uint64_t seed = 12345;
  for (int i = 0; i < N; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int64_t delay = (int64_t)((seed >> 33) % 150) * MS + (int64_t)((seed >> 20) % 1000) * 1000;
    if (i % 100 == 0) delay = 0;
    ids[i] = net_new_id();
    due_unix[i] = clock_unix_ns() + delay;
    net_timer_start(ids[i], &s.mb, (uint64_t)i, delay, 0);
  }
  int got = 0, early = 0, bad = 0;
  while (got < N) {
    mbox_entry *e = sink_take(&s, 5000);
    if (!e) break;
    uint64_t i = e->target;
    if (i >= N || e->arg != ids[i] || seen[i]) bad++;
    else {
      seen[i] = 1;
      if (fired_at(e) < due_unix[i]) early++;
    }
    got++;
    mbox_entry_free(e);
  }
  CHECK_EQ(got, N);
  CHECK_EQ(bad, 0);
  CHECK_EQ(early, 0);
  CHECK(refs_settle(&s, 1));
  free(ids);
  free(due_unix);
  free(seen);
  sink_destroy(&s);
}

static void stop_and_replace(void) {
  sink s;
  sink_init(&s);
  net_timer_stop(net_new_id()); /* unknown ids are harmless */
  net_timer_stop(0);
  net_timer_start(0, &s.mb, 1, MS, 0); /* refused with a message, nothing retained */
  net_timer_start(net_new_id(), NULL, 1, MS, 0);
  CHECK_EQ(refs(&s), 1);

  uint64_t id = net_new_id();
  net_timer_start(id, &s.mb, 1, 30 * MS, 0);
  net_timer_stop(id);
  CHECK(sink_take(&s, 80) == NULL);
  CHECK(refs_settle(&s, 1));

  /* Starting an armed id again replaces it: one expiry, on the new schedule. */
  int64_t m0 = clock_mono_ns();
  net_timer_start(id, &s.mb, 1, 2000 * MS, 0);
  net_timer_start(id, &s.mb, 2, 10 * MS, 0);
  mbox_entry *e = sink_take(&s, 1500);
  CHECK(e != NULL);
  if (e) {
    CHECK_EQ(e->target, 2);
    CHECK(clock_mono_ns() - m0 >= 10 * MS);
    mbox_entry_free(e);
  }
  CHECK(refs_settle(&s, 1));
  CHECK(sink_take(&s, 30) == NULL);
  sink_destroy(&s);
}

/* With only a far timer pending, the loop must sleep, not spin. */
static void idle_loop_sleeps(void) {
  sink s;
  sink_init(&s);
  uint64_t id = net_new_id();
  net_timer_start(id, &s.mb, 1, 60000 * MS, 0);
  sleep_ms(20);
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  sleep_ms(300);
  getrusage(RUSAGE_SELF, &r1);
  int64_t cpu_us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000 +
                   (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                   (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000 +
                   (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  CHECK(cpu_us < 30000);
  net_timer_stop(id);
  CHECK(refs_settle(&s, 1));
  sink_destroy(&s);
}

/* Shutdown releases pending timers; commands after it retain nothing. */
static void stop_releases_pending(void) {
  sink s;
  sink_init(&s);
  for (int i = 0; i < 5; i++)
    net_timer_start(net_new_id(), &s.mb, 1, 10000 * MS, i ? 0 : 1000 * MS); /* one ticker */
  sleep_ms(10);
  net_stop();
  CHECK_EQ(refs(&s), 1);
  CHECK_STR(net_backend_name(), "none");
  net_timer_start(net_new_id(), &s.mb, 1, MS, 0);
  net_timer_stop(12345);
  CHECK_EQ(refs(&s), 1);
  sink_destroy(&s);
}

static void run_timer_suite(const char *want) {
  setenv("WISP_IO_BACKEND", want, 1);
  CHECK_EQ(net_start(), 0);
  CHECK_STR(net_backend_name(), want);
  CHECK_EQ(net_start(), -1); /* already running */
  printf("net thread on %s\n", net_backend_name());
  timers_in_order();
  ticker_runs_and_stops();
  ticker_skips_missed_ticks();
  closed_mailbox_drops_ticker();
  many_timers();
  stop_and_replace();
  idle_loop_sleeps();
  stop_releases_pending(); /* stops the thread */
}

static void test_timers_uring(void) {
  if (!uring_available) {
    setenv("WISP_IO_BACKEND", "io_uring", 1);
    CHECK_EQ(net_start(), -1); /* forced and unavailable: an error, not a fallback */
    return;
  }
  run_timer_suite("io_uring");
}

static void test_timers_epoll(void) { run_timer_suite("epoll"); }

static void test_backend_choice(void) {
  unsetenv("WISP_IO_BACKEND");
  CHECK_EQ(net_start(), 0);
  printf("default backend here: %s\n", net_backend_name());
  CHECK_STR(net_backend_name(), uring_available ? "io_uring" : "epoll");
  net_stop();
  net_stop(); /* twice is harmless */
  setenv("WISP_IO_BACKEND", "kqueue", 1);
  CHECK_EQ(net_start(), -1);
  unsetenv("WISP_IO_BACKEND");
  uint64_t a = net_new_id(), b = net_new_id();
  CHECK(a != 0 && b != 0 && a != b);
}

/* What a container's default seccomp profile does: io_uring_setup fails with EPERM. In a
 * child, so the filter stays there: the default must fall back to epoll, with one line on
 * stderr, and a forced io_uring must fail. */
static int child_without_uring(int errfd) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code / sizeof code[0], code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
    return 10;
  dup2(errfd, 2);
  wlog_set_fd(errfd); /* the fallback is a structured log line */
  wlog_set_format(WLOG_JSON);
  unsetenv("WISP_IO_BACKEND");
  if (net_start() != 0) return 11;
  int bad = strcmp(net_backend_name(), "epoll") != 0;
  net_stop();
  if (net_start() != 0) return 12; /* second start: no second log line */
  net_stop();
  setenv("WISP_IO_BACKEND", "io_uring", 1);
  if (net_start() != -1) return 13;
  return bad ? 14 : 0;
}

static void test_fallback_when_uring_refused(void) {
  int pfd[2];
  CHECK_EQ(pipe(pfd), 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    _exit(child_without_uring(pfd[1]));
  }
  close(pfd[1]);
  char out[1024];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof out - 1 && (r = read(pfd[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  const char *line =
      "\"msg\":\"io_uring unavailable, using epoll\",\"reason\":\"io_uring_queue_init: Operation not permitted\"";
  const char *at = strstr(out, line);
  CHECK(at != NULL);
  CHECK(at && !strstr(at + strlen(line), "io_uring unavailable")); /* logged once */
  CHECK(strstr(out, "wisp: cannot start the net thread") != NULL); /* forced io_uring */
  printf("with io_uring refused by seccomp the net thread ran on epoll\n");
}

TEST_MAIN(test_backend_uring, test_backend_epoll, test_epoll_side_rule, test_timers_uring,
          test_timers_epoll, test_backend_choice, test_fallback_when_uring_refused)
