/* net/netloop.c — the net thread: command queue, timer wheel, backend loop (see netloop.h).
 *
 * Commands: producers push onto an MPSC queue and write the eventfd only when no wake-up is
 * pending (wake_pending was false), so a burst costs one syscall. The loop clears wake_pending
 * before it drains, with an exchange that synchronises with every producer that saw it set;
 * a producer caught mid-push by the drain writes the eventfd itself afterwards, since it sets
 * the flag only after its push. Shutdown: `accepting` turns false, net_stop waits for producers
 * inside submit (the `inflight` count) to leave, then queues QUIT as the very last command.
 *
 * The loop turn: read the monotonic clock, advance the wheels (1 tick = 1 ms, a wheel's now is
 * the floor of the clock, deadlines are rounded up, so nothing fires early; one wheel holds the
 * mailbox timers, the other the connections' deadlines), run the end-of-turn work (gathered
 * writes), then sleep in the backend until the next possible expiry or a completion (the
 * eventfd read among them). No polling: an idle loop with no timers sleeps without limit.
 * Commands of kind CMD_CALL (net_call_submit) carry the connection modules' work. */
#include "net/netloop.h"
#include "core/log.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "core/clock.h"
#include "core/mpsc.h"
#include "core/timerwheel.h"
#include "net/backend.h"
#include "net/idmap.h"

#define NS_PER_TICK 1000000
#define URING_ENTRIES 1024
#define MAX_SLEEP_NS ((int64_t)3600 * 1000000000) /* re-check hourly at most */
#define CMD_BATCH 4096

enum cmd_kind { CMD_TIMER_START = 1, CMD_TIMER_STOP, CMD_QUIT, CMD_CALL };
enum backend_mode { MODE_AUTO, MODE_URING, MODE_EPOLL };

typedef net_call net_cmd; /* fn is used by CMD_CALL only */

typedef struct net_timer {
  net_cmd cmd; /* the CMD_TIMER_START that carried it to the loop; cmd.id = timer id */
  net_idnode idn;
  tw_timer tw;
  mailbox *mb;
  uint64_t chan;
  int64_t deadline_ns; /* monotonic time of the next expiry */
  int64_t period_ns;
} net_timer;

/* Shared between callers and the net thread. */
static struct {
  mpsc_queue q;
  _Atomic bool wake_pending;
  _Atomic bool accepting;
  _Atomic int inflight;
  int evfd;
  pthread_t thread;
  _Atomic bool running; /* written by net_start/net_stop only */
  const char *backend;
} nl = {.evfd = -1};

/* Start handshake between net_start and the new thread. */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static int start_state; /* 0 pending, 1 running, -1 failed */

static _Atomic uint64_t next_id = 1;
static _Atomic bool fallback_logged;

/* Owned by the net thread. */
static struct {
  nb_backend *nb;
  timerwheel wheel;  /* mailbox timers (net_timer_start) */
  timerwheel dwheel; /* connection deadlines (net_deadline_set) */
  net_defer defers; /* end-of-turn work: circular list, this is its sentinel */
  void (*stop_hooks[NET_STOP_HOOKS])(void);
  net_idmap timers;
  nb_op wake_op;
  uint64_t wake_buf;
  bool quit;
  bool more_commands; /* the last run_commands stopped at its batch limit */
  int64_t turn_mono_ns; /* clock at the start of this turn's wheel advance */
  int64_t turn_unix_ns; /* read on the turn's first expiry; 0 until then */
} lp;

static net_timer *timer_of_tw(tw_timer *t) {
  return (net_timer *)((char *)t - offsetof(net_timer, tw));
}
static net_timer *timer_of_idn(net_idnode *n) {
  return (net_timer *)((char *)n - offsetof(net_timer, idn));
}

/* Expiry tick of a monotonic deadline: rounded up, so the timer never fires before it. */
static uint64_t tick_ceil(int64_t ns) {
  if (ns <= 0) return 0;
  uint64_t u = (uint64_t)ns;
  return u / NS_PER_TICK + (u % NS_PER_TICK != 0);
}

static uint64_t tick_floor(int64_t ns) { return ns <= 0 ? 0 : (uint64_t)ns / NS_PER_TICK; }

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fputs("wisp: out of memory in the net command queue\n", stderr);
    abort();
  }
  return p;
}

/* ---- producer side ---- */

static void wake_loop(void) {
  if (atomic_exchange(&nl.wake_pending, true)) return;
  uint64_t one = 1;
  while (write(nl.evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

/* Queues c for the loop; false (c untouched) when the net thread is not accepting. */
static bool submit(net_cmd *c) {
  atomic_fetch_add(&nl.inflight, 1);
  if (!atomic_load(&nl.accepting)) {
    atomic_fetch_sub(&nl.inflight, 1);
    return false;
  }
  mpsc_push(&nl.q, &c->node);
  wake_loop();
  atomic_fetch_sub(&nl.inflight, 1);
  return true;
}

uint64_t net_new_id(void) { return atomic_fetch_add(&next_id, 1); }

const char *net_backend_name(void) { return nl.running ? nl.backend : "none"; }

void net_timer_start(uint64_t timer_id, mailbox *mb, uint64_t chan_id, int64_t delay_ns,
                     int64_t period_ns) {
  if (!timer_id || !mb) {
    fprintf(stderr, "wisp: net_timer_start: %s\n", !mb ? "no mailbox" : "timer id 0");
    return;
  }
  net_timer *t = xmalloc(sizeof *t);
  t->cmd.kind = CMD_TIMER_START;
  t->cmd.id = timer_id;
  t->idn.id = timer_id;
  t->idn.next = NULL;
  tw_timer_init(&t->tw);
  t->mb = mb;
  t->chan = chan_id;
  t->deadline_ns = sat_add(clock_mono_ns(), delay_ns > 0 ? delay_ns : 0);
  t->period_ns = period_ns > 0 ? period_ns : 0;
  mbox_retain(mb);
  if (!submit(&t->cmd)) {
    mbox_release(mb);
    free(t);
  }
}

void net_timer_stop(uint64_t timer_id) {
  if (!timer_id) return;
  net_cmd *c = xmalloc(sizeof *c);
  c->kind = CMD_TIMER_STOP;
  c->id = timer_id;
  if (!submit(c)) free(c);
}

/* ---- net thread ---- */

static void timer_free(net_timer *t) {
  mbox_release(t->mb);
  free(t);
}

static void timer_end(net_timer *t) {
  tw_del(&lp.wheel, &t->tw);
  net_idmap_remove(&lp.timers, t->idn.id);
  timer_free(t);
}

static void on_expiry(tw_timer *tw, void *ud) {
  net_timer *t = timer_of_tw(tw);
  if (!lp.turn_unix_ns) lp.turn_unix_ns = clock_unix_ns();
  int64_t fired = lp.turn_unix_ns;
  mbox_entry *e = mbox_entry_new(MB_TIMER, t->chan, t->idn.id, &fired, sizeof fired);
  bool posted = mbox_post(t->mb, e);
  if (posted && t->period_ns) {
    /* The first multiple of the period after now; the ones in between are skipped. */
    int64_t late = lp.turn_mono_ns - t->deadline_ns;
    int64_t k = (late > 0 ? late / t->period_ns : 0) + 1, step;
    if (__builtin_mul_overflow(k, t->period_ns, &step)) step = INT64_MAX;
    t->deadline_ns = sat_add(t->deadline_ns, step);
    tw_add(&lp.wheel, &t->tw, tick_ceil(t->deadline_ns));
    return;
  }
  timer_end(t);
}

static void run_command(net_cmd *c) {
  switch (c->kind) {
  case CMD_TIMER_START: {
    net_timer *t = (net_timer *)c;
    net_idnode *old = net_idmap_get(&lp.timers, c->id);
    if (old) timer_end(timer_of_idn(old));
    net_idmap_put(&lp.timers, &t->idn);
    tw_add(&lp.wheel, &t->tw, tick_ceil(t->deadline_ns));
    break;
  }
  case CMD_TIMER_STOP: {
    net_idnode *n = net_idmap_get(&lp.timers, c->id);
    if (n) timer_end(timer_of_idn(n));
    free(c);
    break;
  }
  case CMD_QUIT: lp.quit = true; break; /* static, not freed */
  case CMD_CALL: c->fn(c); break;        /* fn owns c */
  default: fprintf(stderr, "wisp: net loop: unknown command %d\n", c->kind); break;
  }
}

/* Runs up to CMD_BATCH queued commands, so a flood of them cannot starve I/O and timers;
 * when the batch is used up the loop comes back for the rest on its next turn, without
 * sleeping (producers that found wake_pending set rely on the loop, not on the eventfd). */
static void run_commands(void) {
  mpsc_node *n;
  int budget = CMD_BATCH;
  while (budget-- > 0 && (n = mpsc_pop(&nl.q)) != NULL) run_command((net_cmd *)n);
  lp.more_commands = budget < 0;
}

static void arm_wake(void);

static void on_wake(nb_op *op, int32_t res, uint32_t flags) {
  atomic_exchange(&nl.wake_pending, false); /* before draining: see the file comment */
  run_commands();
  if (!lp.quit) arm_wake();
}

static void arm_wake(void) {
  lp.wake_op.cb = on_wake;
  int rc = nb_read(lp.nb, &lp.wake_op, nl.evfd, &lp.wake_buf, sizeof lp.wake_buf);
  if (rc < 0) {
    fprintf(stderr, "wisp: net loop cannot watch its command eventfd: %s\n", strerror(-rc));
    abort(); /* without it no command would ever arrive */
  }
}

/* How long the backend may sleep for one wheel: until its next possible expiry. */
static int64_t wheel_sleep_ns(const timerwheel *w) {
  int64_t ticks = tw_next_timeout(w);
  if (ticks <= 0) return ticks; /* -1: no timers, sleep until a completion; 0: run now */
  uint64_t wake_tick = w->now + (uint64_t)ticks;
  if (wake_tick < w->now || wake_tick > (uint64_t)(INT64_MAX / NS_PER_TICK))
    return MAX_SLEEP_NS;
  int64_t d = (int64_t)wake_tick * NS_PER_TICK - clock_mono_ns();
  return d < 0 ? 0 : d > MAX_SLEEP_NS ? MAX_SLEEP_NS : d;
}

static int64_t sleep_ns(void) {
  if (lp.defers.next != &lp.defers) return 0;
  int64_t a = wheel_sleep_ns(&lp.wheel), b = wheel_sleep_ns(&lp.dwheel);
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/* ---- services for connection modules (net thread only) ---- */

bool net_call_submit(net_call *c) {
  c->kind = CMD_CALL;
  c->id = 0;
  return submit(c);
}

nb_backend *net_loop_backend(void) { return lp.nb; }
int64_t net_loop_now(void) { return clock_mono_ns(); }

void net_deadline_set(net_deadline *d, int64_t mono_ns) {
  tw_add(&lp.dwheel, &d->tw, tick_ceil(mono_ns));
}
void net_deadline_cancel(net_deadline *d) { tw_del(&lp.dwheel, &d->tw); }

static void on_deadline(tw_timer *tw, void *ud) {
  net_deadline *d = (net_deadline *)((char *)tw - offsetof(net_deadline, tw));
  d->fn(d);
}

static void defer_link(net_defer *list, net_defer *d) {
  d->prev = list->prev;
  d->next = list;
  list->prev->next = d;
  list->prev = d;
}

void net_defer_run(net_defer *d) {
  if (!d->next) defer_link(&lp.defers, d);
}

void net_defer_cancel(net_defer *d) {
  if (!d->next) return;
  d->prev->next = d->next;
  d->next->prev = d->prev;
  d->next = d->prev = NULL;
}

/* Runs what is deferred now; items deferred meanwhile wait for the next turn. A callback may
 * cancel items of the running batch (an owner freed meanwhile): they just leave it. */
static void run_defers(void) {
  if (lp.defers.next == &lp.defers) return;
  net_defer batch = {lp.defers.next, lp.defers.prev, NULL};
  batch.next->prev = &batch;
  batch.prev->next = &batch;
  lp.defers.next = lp.defers.prev = &lp.defers;
  while (batch.next != &batch) {
    net_defer *d = batch.next;
    net_defer_cancel(d);
    d->fn(d);
  }
}

void net_on_stop(void (*fn)(void)) {
  for (int i = 0; i < NET_STOP_HOOKS; i++) {
    if (lp.stop_hooks[i] == fn) return;
    if (!lp.stop_hooks[i]) {
      lp.stop_hooks[i] = fn;
      return;
    }
  }
  fputs("wisp: net loop: too many stop hooks\n", stderr);
  abort();
}

static void release_timer_node(net_idnode *n, void *ud) {
  net_timer *t = timer_of_idn(n);
  tw_del(&lp.wheel, &t->tw);
  timer_free(t);
}

static nb_backend *open_backend(enum backend_mode mode, char *err, size_t errlen) {
  if (mode == MODE_EPOLL) return nb_epoll_open(err, errlen);
  nb_backend *b = nb_uring_open(URING_ENTRIES, err, errlen);
  if (b || mode == MODE_URING) return b;
  if (!atomic_exchange(&fallback_logged, true))
    /* a structured log line (stdout), so container log pipelines see the fallback too */
    wlog_pack(WLOG_WARN, "io_uring unavailable, using epoll", "{s:s}", "reason", err);
  return nb_epoll_open(err, errlen);
}

static void *loop_main(void *arg) {
  enum backend_mode mode = (enum backend_mode)(intptr_t)arg;
  char err[256] = "";
  memset(&lp, 0, sizeof lp);
  /* The ring is single-issuer, so it is created here, on the thread that drives it. */
  lp.nb = open_backend(mode, err, sizeof err);
  bool ok = lp.nb != NULL;
  if (!ok) fprintf(stderr, "wisp: cannot start the net thread: %s\n", err);
  if (ok && net_idmap_init(&lp.timers) < 0) {
    fputs("wisp: cannot start the net thread: out of memory\n", stderr);
    nb_close(lp.nb);
    ok = false;
  }
  pthread_mutex_lock(&start_mu);
  if (ok) nl.backend = nb_name(lp.nb);
  start_state = ok ? 1 : -1;
  pthread_cond_broadcast(&start_cv);
  pthread_mutex_unlock(&start_mu);
  if (!ok) return NULL;

  tw_init(&lp.wheel, tick_floor(clock_mono_ns()));
  tw_init(&lp.dwheel, lp.wheel.now);
  lp.defers.next = lp.defers.prev = &lp.defers;
  arm_wake();
  int wait_errors = 0;
  for (;;) {
    if (lp.more_commands) run_commands();
    lp.turn_mono_ns = clock_mono_ns();
    lp.turn_unix_ns = 0;
    tw_advance(&lp.wheel, tick_floor(lp.turn_mono_ns), on_expiry, NULL);
    tw_advance(&lp.dwheel, tick_floor(lp.turn_mono_ns), on_deadline, NULL);
    if (lp.quit) break;
    run_defers();
    int rc = nb_wait(lp.nb, lp.more_commands ? 0 : sleep_ns());
    if (rc < 0) {
      /* Not expected from a healthy kernel; report a few, and never spin on it. */
      if (wait_errors++ < 5) fprintf(stderr, "wisp: net loop wait failed: %s\n", strerror(-rc));
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }

  /* Nothing can follow QUIT, but be exact about ownership. */
  mpsc_node *n;
  while ((n = mpsc_pop(&nl.q)) != NULL) run_command((net_cmd *)n);
  net_idmap_clear(&lp.timers, release_timer_node, NULL);
  net_idmap_free(&lp.timers);
  nb_close(lp.nb);
  lp.nb = NULL;
  for (int i = 0; i < NET_STOP_HOOKS && lp.stop_hooks[i]; i++) lp.stop_hooks[i]();
  return NULL;
}

static int parse_mode(enum backend_mode *mode) {
  const char *v = getenv("WISP_IO_BACKEND");
  if (!v || !*v) *mode = MODE_AUTO;
  else if (!strcmp(v, "io_uring")) *mode = MODE_URING;
  else if (!strcmp(v, "epoll")) *mode = MODE_EPOLL;
  else {
    fprintf(stderr, "wisp: WISP_IO_BACKEND must be \"io_uring\" or \"epoll\", not \"%s\"\n", v);
    return -1;
  }
  return 0;
}

int net_start(void) {
  if (nl.running) {
    fputs("wisp: net thread already running\n", stderr);
    return -1;
  }
  enum backend_mode mode;
  if (parse_mode(&mode) < 0) return -1;
  nl.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (nl.evfd < 0) {
    fprintf(stderr, "wisp: cannot start the net thread: eventfd: %s\n", strerror(errno));
    return -1;
  }
  mpsc_init(&nl.q);
  atomic_store(&nl.wake_pending, false);
  atomic_store(&nl.inflight, 0);
  start_state = 0;

  /* Signals belong to the main thread: the net thread starts with all of them blocked. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&nl.thread, NULL, loop_main, (void *)(intptr_t)mode);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    fprintf(stderr, "wisp: cannot start the net thread: %s\n", strerror(rc));
    close(nl.evfd);
    nl.evfd = -1;
    return -1;
  }
  pthread_setname_np(nl.thread, "wisp-net");
  pthread_mutex_lock(&start_mu);
  while (start_state == 0) pthread_cond_wait(&start_cv, &start_mu);
  int state = start_state;
  pthread_mutex_unlock(&start_mu);
  if (state < 0) {
    pthread_join(nl.thread, NULL);
    close(nl.evfd);
    nl.evfd = -1;
    return -1;
  }
  atomic_store(&nl.accepting, true);
  nl.running = true;
  return 0;
}

void net_stop(void) {
  if (!nl.running) return;
  atomic_store(&nl.accepting, false);
  while (atomic_load(&nl.inflight) > 0) sched_yield();
  static net_cmd quit = {.kind = CMD_QUIT};
  mpsc_push(&nl.q, &quit.node);
  wake_loop();
  pthread_join(nl.thread, NULL);
  close(nl.evfd);
  nl.evfd = -1;
  nl.running = false;
}
