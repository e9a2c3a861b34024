/* tests/unit/test_mpsc_stress.c — the MPSC queue and the mailbox under concurrent producers:
 * nothing lost, nothing duplicated, per-producer order kept. Meant to run under TSan too. */
#include <pthread.h>
#include <stdlib.h>
#include "core/mailbox.h"
#include "core/mpsc.h"
#include "tests/unit/t.h"

#define PRODUCERS 4
#define PER_PRODUCER 50000

typedef struct item {
  mpsc_node node;
  int producer, seq;
} item;

static mpsc_queue q;

static void *produce(void *arg) {
  int p = (int)(intptr_t)arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    item *it = malloc(sizeof *it);
    it->producer = p;
    it->seq = i;
    mpsc_push(&q, &it->node);
  }
  return NULL;
}

static void queue_keeps_order_per_producer(void) {
  mpsc_init(&q);
  pthread_t th[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) pthread_create(&th[i], NULL, produce, (void *)(intptr_t)i);
  int next[PRODUCERS] = {0};
  int got = 0, misorder = 0;
  while (got < PRODUCERS * PER_PRODUCER) {
    mpsc_node *n = mpsc_pop(&q);
    if (!n) continue;
    item *it = (item *)n;
    if (it->seq != next[it->producer]) misorder++;
    next[it->producer] = it->seq + 1;
    got++;
    free(it);
  }
  for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
  CHECK_EQ(misorder, 0);
  CHECK(mpsc_pop(&q) == NULL);
  CHECK(!mpsc_maybe_nonempty(&q));
}

static void empty_queue(void) {
  mpsc_queue e;
  mpsc_init(&e);
  CHECK(mpsc_pop(&e) == NULL);
  CHECK(!mpsc_maybe_nonempty(&e));
  item one = {.producer = 0, .seq = 7};
  mpsc_push(&e, &one.node);
  CHECK(mpsc_maybe_nonempty(&e));
  CHECK(mpsc_pop(&e) == &one.node);
  CHECK(!mpsc_maybe_nonempty(&e));
}

/* mailbox: notify counting and close semantics */
static _Atomic int notified, destroyed;
static void on_notify(mailbox *mb) { atomic_fetch_add(&notified, 1); }
static void on_destroy(mailbox *mb) { atomic_fetch_add(&destroyed, 1); }
static mailbox mbx;

static void *post_many(void *arg) {
  int p = (int)(intptr_t)arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    mbox_retain(&mbx);
    int v[2] = {p, i};
    mbox_post(&mbx, mbox_entry_new(MB_VALUE, 1, 0, v, sizeof v));
    mbox_release(&mbx);
  }
  return NULL;
}

static void mailbox_concurrent_posts(void) {
  mbox_init(&mbx, on_notify, on_destroy);
  pthread_t th[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) pthread_create(&th[i], NULL, post_many, (void *)(intptr_t)i);
  int next[PRODUCERS] = {0}, got = 0, bad = 0;
  while (got < PRODUCERS * PER_PRODUCER) {
    mbox_entry *e = mbox_take(&mbx);
    if (!e) continue;
    int v[2];
    memcpy(v, e->data, sizeof v);
    if (v[1] != next[v[0]]) bad++;
    next[v[0]] = v[1] + 1;
    got++;
    mbox_entry_free(e);
  }
  for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
  CHECK_EQ(bad, 0);
  CHECK_EQ(atomic_load(&notified), PRODUCERS * PER_PRODUCER);
  CHECK_EQ(atomic_load(&mbx.queued_bytes), 0);
  mbox_close(&mbx);
  CHECK(!mbox_post(&mbx, mbox_entry_new(MB_VALUE, 1, 0, NULL, 0)));
  mbox_post(&mbx, mbox_entry_new(MB_VALUE, 1, 0, NULL, 0));
  CHECK_EQ(atomic_load(&destroyed), 0);
  mbox_release(&mbx);
  CHECK_EQ(atomic_load(&destroyed), 1);
}

TEST_MAIN(empty_queue, queue_keeps_order_per_producer, mailbox_concurrent_posts)
