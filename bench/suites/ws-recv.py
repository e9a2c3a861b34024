#!/usr/bin/python3
"""bench/suites/ws-recv.py — receive throughput: bench/peers/wsload floods N binary messages of
16 B, 128 B, 1 KiB and 64 KiB over ws:// on loopback; each client counts them (Wisp: a Lua
loop on ch:receive(); Node ws; Python websockets; libwebsockets; the raw-socket reader, whose
rate is the ceiling the load server and the kernel allow). The clock starts before the client
sends "go", which starts the flood, and stops at the N-th message. Metric: messages/s."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, Server, peer_bin, wisp_cmd, node_cmd, py_cmd, run_client  # noqa: E402

FULL = {16: 1_000_000, 128: 1_000_000, 1024: 500_000, 65536: 20_000}
SMOKE = {16: 2_000, 128: 2_000, 1024: 2_000, 65536: 200}
LABEL = {16: "16 B", 128: "128 B", 1024: "1 KiB", 65536: "64 KiB"}


def clients(port, path, n):
    url = f"ws://127.0.0.1:{port}{path}"
    return [
        ("wisp", wisp_cmd("recv", url, n)),
        ("node-ws", node_cmd("recv", url, n)),
        ("python-websockets", py_cmd("recv", url, n)),
        ("libwebsockets", [peer_bin("lws_client"), "recv", str(port), path, str(n)]),
        ("raw-socket", [peer_bin("rawclient"), "recv", str(port), path, str(n)]),
    ]


def main():
    s = Suite("ws-recv", __doc__)
    sizes = SMOKE if s.smoke else FULL
    with Server() as srv:
        for _ in range(s.runs):
            for size, n in sizes.items():
                path = f"/flood?n={n}&size={size}&go=1"
                for impl, cmd in clients(srv.port, path, n):
                    def one(cmd=cmd, n=n, size=size):
                        r = run_client(cmd, timeout=120 if not s.smoke else 30)
                        if r["msgs"] != n or r["bytes"] != n * size:
                            raise ValueError(f"got {r['msgs']:.0f} messages / {r['bytes']:.0f} bytes")
                        return r
                    s.measure([("msgs/s", LABEL[size], impl, "msg/s", "higher",
                                lambda r: r["msgs"] / r["seconds"])], one)
    s.finish()


if __name__ == "__main__":
    main()
