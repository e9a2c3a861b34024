/* stdlib/ws_metrics.c — WebSocket metrics for /metrics, counted where every connection event
 * passes anyway: the MB_NET mailbox handler, which this file wraps (so neither the net thread
 * nor the binding carries metrics code). Per the ws_client.h contract a connection posts
 * WSE_OPEN ... WSE_CLOSED, or WSE_FAIL alone, so open = opened - closed. */
#include <string.h>
#include "actors/actor.h"
#include "core/metrics.h"
#include "net/ws_client.h"
#include "stdlib/stdlib.h"

#define MAX_STAGES 8

static actor_handler inner;
static metric_series *m_opened, *m_closed, *m_msgs_in, *m_bytes_in, *m_bytes_out;
static metric_series *m_failed[MAX_STAGES];

static void on_net_counted(lua_State *L, actor *a, mbox_entry *e) {
  switch (e->flags) {
  case WSE_OPEN: metric_add(m_opened, 1); break;
  case WSE_CLOSED: metric_add(m_closed, 1); break;
  case WSE_MESSAGE:
    metric_add(m_msgs_in, 1);
    metric_add(m_bytes_in, e->len ? (int64_t)e->len - 1 : 0); /* minus the type byte */
    break;
  case WSE_DRAINED:
    if (e->len >= sizeof(uint64_t)) {
      uint64_t n;
      memcpy(&n, e->data, sizeof n);
      metric_add(m_bytes_out, (int64_t)n);
    }
    break;
  case WSE_FAIL:
    if (e->len >= sizeof(ws_fail_event)) {
      ws_fail_event fe;
      memcpy(&fe, e->data, sizeof fe);
      int stage = fe.stage < MAX_STAGES ? fe.stage : 0;
      if (!m_failed[stage])
        m_failed[stage] = metrics_series("wisp_websocket_connect_failures_total",
                                         "WebSocket connects that failed, by the stage that was running",
                                         METRIC_COUNTER, "stage", ws_stage_name(stage), NULL);
      metric_add(m_failed[stage], 1);
    }
    break;
  default: break;
  }
  if (inner) inner(L, a, e);
}

static int64_t open_now(void) {
  return atomic_load_explicit(&m_opened->value, memory_order_relaxed) -
         atomic_load_explicit(&m_closed->value, memory_order_relaxed);
}

static void write_states(wbuf *out, const char *name, void *ud) {
  int64_t open = open_now(), all = (int64_t)ws_net_count();
  metrics_put_series(out, name, "state", "open", open);
  metrics_put_series(out, name, "state", "connecting_or_closing", all > open ? all - open : 0);
}

void ws_metrics_install(void) {
  if (inner) return;
  inner = actor_get_handler(MB_NET);
  m_opened = metrics_series("wisp_websocket_opened_total", "WebSocket connections opened", METRIC_COUNTER, NULL);
  m_closed = metrics_series("wisp_websocket_closed_total", "WebSocket connections closed after opening",
                            METRIC_COUNTER, NULL);
  m_msgs_in = metrics_series("wisp_websocket_messages_in_total", "WebSocket messages received", METRIC_COUNTER, NULL);
  m_bytes_in = metrics_series("wisp_websocket_bytes_in_total", "WebSocket message payload bytes received",
                              METRIC_COUNTER, NULL);
  m_bytes_out = metrics_series("wisp_websocket_bytes_out_total", "WebSocket frame bytes written to sockets",
                               METRIC_COUNTER, NULL);
  metrics_custom("wisp_websocket_connections", "WebSocket connections by state", METRIC_GAUGE, write_states, NULL);
  actor_set_handler(MB_NET, on_net_counted);
}
