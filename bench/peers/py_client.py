#!/usr/bin/python3
"""bench/peers/py_client.py — the Python `websockets` peer of the WebSocket benchmarks: Debian's
python3-websockets on /usr/bin/python3 (asyncio, default options except where a mode needs
one). Modes and output match bench/lua/ws_client.lua:

    recv URL N [CA_FILE|-] [deflate]          count N messages of a flood
    echo URL SECONDS SIZE                     sequential round trips
    conns URL COUNT PARALLEL K [deflate]      COUNT connections, PARALLEL dialing at once, each
                                              waiting for K messages; then "HOLD" until killed

Prints "RESULT key=value ..."; "UNAVAILABLE why" when the server refused for want of a
permessage-deflate offer (close 4000). Exits 1 with a message on any failure.
"""
import asyncio
import ssl
import sys
import time

import websockets


class Unavailable(Exception):
    pass


def fail(msg):
    print(f"py_client: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def options(url, ca="-", deflate=""):
    o = {"compression": "deflate" if deflate == "deflate" else None, "max_size": 128 << 20}
    if ca and ca != "-":
        ctx = ssl.create_default_context(cafile=ca)
        o["ssl"] = ctx
        o["server_hostname"] = "localhost"
    return o


async def take(ws):
    try:
        return await ws.recv()
    except websockets.ConnectionClosed as e:
        if e.rcvd and e.rcvd.code == 4000:
            raise Unavailable() from None
        raise


async def recv(url, n, ca="-", deflate=""):
    n = int(n)
    async with websockets.connect(url, **options(url, ca, deflate)) as ws:
        t0 = time.perf_counter()
        await ws.send(b"go")
        count = nbytes = 0
        while count < n:
            m = await take(ws)
            count += 1
            nbytes += len(m)
        el = time.perf_counter() - t0
    print(f"RESULT msgs={count} bytes={nbytes} seconds={el:.6f}", flush=True)


async def echo(url, seconds, size):
    seconds = float(seconds)
    payload = b"e" * int(size)
    lat = []
    async with websockets.connect(url, **options(url)) as ws:
        t0 = time.perf_counter()
        while True:
            s = time.perf_counter()
            await ws.send(payload)
            m = await ws.recv()
            t = time.perf_counter()
            if len(m) != len(payload):
                fail("echo lost")
            lat.append(t - s)
            if t - t0 >= seconds:
                break
    lat.sort()
    print(f"RESULT rtts={len(lat)} seconds={t - t0:.6f} p50_us={lat[len(lat) // 2] * 1e6:.2f} "
          f"p99_us={lat[int(len(lat) * 0.99)] * 1e6:.2f}", flush=True)


async def conns(url, count, parallel, k, deflate=""):
    count, parallel, k = int(count), int(parallel), int(k)
    held = []
    state = {"next": 0}

    async def worker():
        while state["next"] < count:
            state["next"] += 1
            ws = await websockets.connect(url, **options(url, "-", deflate))
            held.append(ws)
            for _ in range(k):
                await take(ws)

    print("BASE", flush=True)
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(parallel, count))))
    print(f"RESULT conns={count} seconds={time.perf_counter() - t0:.6f}", flush=True)
    print("HOLD", flush=True)
    await asyncio.sleep(600)


def main():
    if len(sys.argv) < 3:
        fail("usage: py_client.py recv|echo|conns URL ...")
    mode, args = sys.argv[1], sys.argv[2:]
    fn = {"recv": recv, "echo": echo, "conns": conns}.get(mode)
    if not fn:
        fail(f"unknown mode {mode}")
    try:
        asyncio.run(fn(*args))
    except Unavailable:
        print("UNAVAILABLE permessage-deflate not negotiated", flush=True)
    except websockets.ConnectionClosed as e:
        if e.rcvd and e.rcvd.code == 4000:
            print("UNAVAILABLE permessage-deflate not negotiated", flush=True)
        else:
            fail(f"{type(e).__name__}: {e}")
    except Exception as e:  # a failed run must say why and exit 1
        fail(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
