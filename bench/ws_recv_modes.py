#!/usr/bin/python3
"""bench/ws_recv_modes.py — how fast Wisp's client takes in a flood, by transport and by
permessage-deflate mode: ws:// and wss://, 1 KiB JSON text and 64 KiB messages, uncompressed
and compressed (context takeover, no context). The text is market-data records with varying
numbers: it compresses about 3x per message alone and 4x with a 12-bit context.

The flooder (in this file, threads and blocking sockets) answers the upgrade, then writes a
blob prepared before the connection: N frames (message i is distinct JSON-like text of the
given size; compressed frames are made with zlib in the mode the client negotiated, with one
running stream for context takeover) and a close frame. Over wss the same blob goes through
Python's ssl (OpenSSL) on the server side. The client (bench/ws_deflate/recv.lua, channel
capacity 1000 for 1 KiB, 32 for 64 KiB) times the first message to the last. Each row is the
median of RUNS runs.

    /usr/bin/python3 bench/ws_recv_modes.py [--wisp build-rel/wisp] [--runs 5] [--n 200000]
        [--backend epoll] [--client-order]
"""
import argparse
import base64
import hashlib
import os
import random
import re
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ANSWERS = {
    "context_takeover": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "no_context": "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
}


def frame(op, payload, rsv1=False):
    b0 = 0x80 | (0x40 if rsv1 else 0) | op
    n = len(payload)
    if n < 126:
        return bytes([b0, n]) + payload
    if n < 65536:
        return bytes([b0, 126]) + struct.pack("!H", n) + payload
    return bytes([b0, 127]) + struct.pack("!Q", n) + payload


SYMS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "AVAX-USD", "DOT-USD"]


def message(i, size):
    """Message i: market-data records with varying numbers (compresses ~3x alone, ~4x with a
    12-bit context), cut to size bytes."""
    rnd = random.Random(i)
    out, seq = [], i * 1000
    while sum(map(len, out)) < size:
        seq += 1
        out.append(f'{{"seq":{seq},"t":{1700000000000 + rnd.randrange(10**6)},"sym":"{rnd.choice(SYMS)}",'
                   f'"px":{rnd.randrange(10, 70000)}.{rnd.randrange(100):02d},"qty":{rnd.randrange(1, 10**6) / 1000},'
                   f'"side":"{rnd.choice(("buy", "sell"))}"}},')
    return "".join(out)[:size].encode()


def blob(n, size, mode):
    """The frames of one flood (distinct base messages cycled; compression runs over all)."""
    base = [message(i, size) for i in range(min(n, 4096))]
    parts = []
    if mode == "disabled":
        frames = [frame(1, m) for m in base]
        parts = [frames[i % len(frames)] for i in range(n)]
    elif mode == "no_context":
        frames = []
        for m in base:
            z = zlib.compressobj(6, zlib.DEFLATED, -15)
            frames.append(frame(1, (z.compress(m) + z.flush(zlib.Z_SYNC_FLUSH))[:-4], True))
        parts = [frames[i % len(frames)] for i in range(n)]
    else:
        z = zlib.compressobj(6, zlib.DEFLATED, -12)
        for i in range(n):
            parts.append(frame(1, (z.compress(base[i % len(base)]) + z.flush(zlib.Z_SYNC_FLUSH))[:-4], True))
    parts.append(frame(8, struct.pack("!H", 1000)))
    return b"".join(parts)


class Flooder:
    def __init__(self, certdir, client_order=False):
        self.blobs = {}
        self.plain = socket.create_server(("127.0.0.1", 0))
        self.tls = socket.create_server(("127.0.0.1", 0))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(f"{certdir}/server.pem", f"{certdir}/server.key")
        if client_order:  # Python servers pick by their own order (AES-GCM) unless told not to
            self.ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        self.cipher = None
        for s, tls in ((self.plain, False), (self.tls, True)):
            threading.Thread(target=self.accept, args=(s, tls), daemon=True).start()

    def prepare(self, n, size, mode):
        self.blobs[(n, size, mode)] = blob(n, size, mode)

    def accept(self, ls, tls):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=self.serve, args=(c, tls), daemon=True).start()

    def serve(self, c, tls):
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls:
                c = self.ctx.wrap_socket(c, server_side=True)
                self.cipher = c.cipher()
            req = b""
            while b"\r\n\r\n" not in req:
                d = c.recv(65536)
                if not d:
                    return
                req += d
            head = req.decode("latin-1")
            key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
            q = dict(kv.split("=") for kv in head.split(" ")[1].split("?")[1].split("&"))
            n, size, mode = int(q["n"]), int(q["size"]), q["mode"]
            acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            ext = f"Sec-WebSocket-Extensions: {ANSWERS[mode]}\r\n" if mode in ANSWERS else ""
            c.sendall((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Accept: {acc}\r\n{ext}\r\n").encode())
            data = memoryview(self.blobs[(n, size, mode)])
            for i in range(0, len(data), 1 << 20):
                c.sendall(data[i:i + (1 << 20)])
            c.settimeout(10)
            while c.recv(65536):  # the client's close frame, then its end
                pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()


def run(wisp, port, tls, n, size, mode, certdir, env):
    url = f"{'wss' if tls else 'ws'}://localhost:{port}/flood?n={n}&size={size}&mode={mode}"
    capacity = 1000 if size <= 4096 else 32
    out = subprocess.run([wisp, "--log-format", "text", "exec", "bench/ws_deflate/recv.lua", url, str(n), mode,
                          f"{certdir}/ca.pem" if tls else "-", str(capacity)], cwd=ROOT, capture_output=True,
                         timeout=600, env=env)
    m = re.search(rb"RESULT msgs=(\d+) bytes=(\d+) seconds=([\d.]+)", out.stdout)
    if not m or int(m.group(1)) != n:
        raise RuntimeError(f"{url}: {out.stdout[-500:]!r} {out.stderr[-500:]!r}")
    return int(m.group(1)) / float(m.group(3)), int(m.group(2)) / float(m.group(3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wisp", default=os.path.join(ROOT, "build-rel", "wisp"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=200000, help="messages per 1 KiB run (64 KiB runs: n/32)")
    ap.add_argument("--backend", default="", help="WISP_IO_BACKEND for the client (default: unset)")
    ap.add_argument("--client-order", action="store_true",
                    help="the TLS server follows the client's cipher order (Wisp's: see tls_cipher_list)")
    a = ap.parse_args()
    certdir = tempfile.mkdtemp(prefix="wisp-bench-certs-")
    subprocess.run(["bash", "tests/certs/gen.sh", certdir], cwd=ROOT, check=True)
    env = dict(os.environ)
    env.pop("WISP_IO_BACKEND", None)
    if a.backend:
        env["WISP_IO_BACKEND"] = a.backend
    fl = Flooder(certdir, a.client_order)
    rows = [(False, 1024, "disabled"), (False, 1024, "context_takeover"), (False, 1024, "no_context"),
            (True, 1024, "disabled"), (True, 1024, "context_takeover"),
            (False, 65536, "disabled"), (True, 65536, "disabled")]
    print(f"{'transport':9} {'size':>6} {'compression':17} {'msgs/s (median)':>16} {'MB/s':>8}  runs")
    for tls, size, mode in rows:
        n = a.n if size == 1024 else max(a.n // 32, 100)
        fl.prepare(n, size, mode)
        res = [run(a.wisp, (fl.tls if tls else fl.plain).getsockname()[1], tls, n, size, mode, certdir, env)
               for _ in range(a.runs)]
        rates = sorted(r[0] for r in res)
        med = statistics.median(rates)
        mbs = statistics.median(r[1] for r in res) / 1e6
        print(f"{'wss' if tls else 'ws':9} {size:6} {mode:17} {med:16,.0f} {mbs:8.1f}  "
              f"{', '.join(f'{r / 1000:.0f}k' for r in rates)}", flush=True)
    if fl.cipher:
        print(f"wss cipher: {fl.cipher[0]} ({fl.cipher[1]})")


if __name__ == "__main__":
    main()
