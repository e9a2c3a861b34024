#!/usr/bin/python3
"""bench/suites/ws-deflate.py — permessage-deflate (RFC 7692): bench/peers/wsload floods 1 KiB
JSON text messages (market-data updates), compressed once at start-up in the mode each client
offers (context takeover unless it asks otherwise) and replayed; clients inflate and count
them. Metrics: messages/s, and RSS per connection for 1,000 connections that each received
10 compressed messages (so every inflater is allocated) and then sit idle. The raw-socket
client counts the compressed frames without inflating them: the ceiling set by the server.
Wisp asks for
compression = "context_takeover"; until Wisp offers the extension the server answers with close
4000 and Wisp's rows are "unavailable"."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, Server, peer_bin, wisp_cmd, node_cmd, py_cmd, run_client, conns_markers  # noqa: E402

PARALLEL = 100
K = 10


def main():
    s = Suite("ws-deflate", __doc__)
    n = 1_000 if s.smoke else 100_000
    count = 20 if s.smoke else 1_000
    with Server() as srv:
        path = f"/deflate?n={n}&go=1"
        url = srv.url(path)
        recv = [
            ("wisp", wisp_cmd("recv", url, n, "-", "context_takeover")),
            ("node-ws", node_cmd("recv", url, n, "-", "deflate")),
            ("python-websockets", py_cmd("recv", url, n, "-", "deflate")),
            ("libwebsockets", [peer_bin("lws_client"), "recv", str(srv.port), path, str(n), "-", "deflate"]),
            # counts the compressed frames without inflating them: the server's own pace
            ("raw-socket", [peer_bin("rawclient"), "recv", str(srv.port), path, str(n), "-", "deflate"]),
        ]
        curl = srv.url(f"/deflate?n={K}")
        conns = [
            ("wisp", wisp_cmd("conns", curl, count, PARALLEL, K, "context_takeover")),
            ("node-ws", node_cmd("conns", curl, count, PARALLEL, K, "deflate")),
            ("python-websockets", py_cmd("conns", curl, count, PARALLEL, K, "deflate")),
        ]
        for _ in range(s.runs):
            for impl, cmd in recv:
                def one(cmd=cmd, impl=impl):
                    r = run_client(cmd, timeout=180)
                    if r["msgs"] != n or (impl != "raw-socket" and r["bytes"] != n * 1024):
                        raise ValueError(f"got {r['msgs']:.0f} messages / {r['bytes']:.0f} bytes")
                    return r
                s.measure([("msgs/s", "1 KiB JSON", impl, "msg/s", "higher",
                            lambda r: r["msgs"] / r["seconds"])], one)
            for impl, cmd in conns:
                def hold(cmd=cmd):
                    st = {}
                    r = run_client(cmd, timeout=180, markers=conns_markers(st))
                    r["per_conn"] = (st["hold_kb"] - st["base_kb"]) * 1024 / count
                    return r
                s.measure([("RSS per connection", f"{count} conns", impl, "bytes", "lower", "per_conn")], hold)
    s.finish()


if __name__ == "__main__":
    main()
