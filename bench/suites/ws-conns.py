#!/usr/bin/python3
"""bench/suites/ws-conns.py — idle connections: 10,000 WebSocket connections to
bench/peers/wsload's /idle, opened 100 at a time, held by one actor (Wisp), one process (Node ws,
Python websockets), and 10,000 each held by its own actor (Wisp). Metrics: RSS per connection
(the client's VmRSS once all are open and 1 s has passed, less its VmRSS just before the first
dial, divided by the count; kernel socket buffers are not in it) and the time to open them
all."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, Server, wisp_cmd, node_cmd, py_cmd, run_client, conns_markers  # noqa: E402

PARALLEL = 100


def main():
    s = Suite("ws-conns", __doc__)
    count = 200 if s.smoke else 10_000
    case = f"{count} idle"
    with Server() as srv:
        url = srv.url("/idle")
        clients = [
            ("wisp", wisp_cmd("conns", url, count, PARALLEL, 0)),
            ("wisp (actor each)", wisp_cmd("conns_actors", url, count, PARALLEL, 0)),
            ("node-ws", node_cmd("conns", url, count, PARALLEL, 0)),
            ("python-websockets", py_cmd("conns", url, count, PARALLEL, 0)),
        ]
        for _ in range(s.runs):
            for impl, cmd in clients:
                def one(cmd=cmd):
                    st = {}
                    r = run_client(cmd, timeout=180, markers=conns_markers(st))
                    r["per_conn"] = (st["hold_kb"] - st["base_kb"]) * 1024 / count
                    return r
                s.measure([("RSS per connection", case, impl, "bytes", "lower", "per_conn"),
                           ("time to open all", case, impl, "s", "lower", "seconds")], one)
    s.finish()


if __name__ == "__main__":
    main()
