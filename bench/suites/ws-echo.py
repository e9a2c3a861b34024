#!/usr/bin/python3
"""bench/suites/ws-echo.py — latency: sequential 64-byte binary round trips against
bench/peers/wsload's /echo for 5 s (one message in flight). Each client times every round trip
itself (Wisp with time.now()) and reports round trips/s, the median (p50) and the 99th
percentile (p99) in microseconds. The raw-socket client is the floor the server and the kernel
allow."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, Server, peer_bin, wisp_cmd, node_cmd, py_cmd, run_client  # noqa: E402

SIZE = 64


def main():
    s = Suite("ws-echo", __doc__)
    seconds = 0.3 if s.smoke else 5.0
    with Server() as srv:
        url = srv.url("/echo")
        clients = [
            ("wisp", wisp_cmd("echo", url, seconds, SIZE)),
            ("node-ws", node_cmd("echo", url, seconds, SIZE)),
            ("python-websockets", py_cmd("echo", url, seconds, SIZE)),
            ("libwebsockets", [peer_bin("lws_client"), "echo", str(srv.port), "/echo", str(seconds), str(SIZE)]),
            ("raw-socket", [peer_bin("rawclient"), "echo", str(srv.port), "/echo", str(seconds), str(SIZE)]),
        ]
        for _ in range(s.runs):
            for impl, cmd in clients:
                s.measure([("round trips/s", "64 B", impl, "rt/s", "higher", lambda r: r["rtts"] / r["seconds"]),
                           ("latency p50", "64 B", impl, "us", "lower", "p50_us"),
                           ("latency p99", "64 B", impl, "us", "lower", "p99_us")],
                          lambda cmd=cmd: run_client(cmd, timeout=seconds + 30))
    s.finish()


if __name__ == "__main__":
    main()
