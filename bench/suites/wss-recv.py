#!/usr/bin/python3
"""bench/suites/wss-recv.py — receive throughput over TLS: bench/peers/wsload with OpenSSL and a
self-signed ECDSA P-256 certificate made on the fly with the openssl tool (the server prefers
TLS_AES_128_GCM_SHA256, so every client gets the same suite) floods 1 KiB and 64 KiB binary
messages; each client trusts the certificate explicitly (Wisp: tls.ca_file). Metric:
messages/s. Until Wisp has TLS, its connect fails with "not built yet" and its rows are
"unavailable"."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Suite, Server, peer_bin, wisp_cmd, node_cmd, py_cmd, run_client, self_signed_cert  # noqa: E402

FULL = {1024: 300_000, 65536: 10_000}
SMOKE = {1024: 2_000, 65536: 100}
LABEL = {1024: "1 KiB", 65536: "64 KiB"}


def main():
    s = Suite("wss-recv", __doc__)
    sizes = SMOKE if s.smoke else FULL
    cert, key = self_signed_cert(s.tmp)
    with Server(tls=(cert, key)) as srv:
        for _ in range(s.runs):
            for size, n in sizes.items():
                path = f"/flood?n={n}&size={size}&go=1"
                url = srv.url(path, "wss")
                clients = [
                    ("wisp", wisp_cmd("recv", url, n, cert)),
                    ("node-ws", node_cmd("recv", url, n, cert)),
                    ("python-websockets", py_cmd("recv", url, n, cert)),
                    ("libwebsockets", [peer_bin("lws_client"), "recv", str(srv.port), path, str(n), cert]),
                    ("raw-socket", [peer_bin("rawclient"), "recv", str(srv.port), path, str(n), cert]),
                ]
                for impl, cmd in clients:
                    def one(cmd=cmd, n=n, size=size):
                        r = run_client(cmd, timeout=180)
                        if r["msgs"] != n or r["bytes"] != n * size:
                            raise ValueError(f"got {r['msgs']:.0f} messages / {r['bytes']:.0f} bytes")
                        return r
                    s.measure([("msgs/s", LABEL[size], impl, "msg/s", "higher",
                                lambda r: r["msgs"] / r["seconds"])], one)
    s.finish()


if __name__ == "__main__":
    main()
