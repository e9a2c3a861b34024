#!/usr/bin/python3
"""tests/ws/peers/check_peers.py — checks the test peers with an independent client
(Debian's python3-websockets), so a failing Wisp test points at Wisp and not at a peer.

    /usr/bin/python3 tests/ws/peers/check_peers.py PY NODE RAW PYTLS PYMTLS CERT_DIR [RAWTLS NGX]
    (addresses are host:port); prints one line per check and exits 1 if any failed.

For the raw server's violations it also checks that an independent client fails with the same
close code the Wisp tests expect, and that /report shows that client's close frame.
"""
import asyncio
import json
import ssl
import sys
import uuid

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage

PY, NODE, RAW, PYTLS, PYMTLS, CERTS = sys.argv[1:7]
RAWTLS, NGX = (sys.argv[7:9] + [None, None])[:2]
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"), flush=True)


async def report(rid, count=1):
    async with websockets.connect(f"ws://{RAW}/report?id={rid}&count={count}") as ws:
        return json.loads(await ws.recv())


async def echo_checks(addr, label):
    async with websockets.connect(f"ws://{addr}/echo", max_size=None) as ws:
        big = bytes(range(256)) * (3 * 4096)
        await ws.send("héllo")
        await ws.send(big)
        a, b = await ws.recv(), await ws.recv()
        check(f"{label} echo", a == "héllo" and b == big, f"{a!r} / {len(b)} bytes")
    async with websockets.connect(f"ws://{addr}/flood?n=2000&size=100") as ws:
        got = [m async for m in ws]
        ok = len(got) == 2000 and all(int(m[:10]) == i + 1 and len(m) == 100 for i, m in enumerate(got))
        check(f"{label} flood", ok and ws.close_code == 1000, f"{len(got)} messages, close {ws.close_code}")


async def py_checks():
    async with websockets.connect(f"ws://{PY}/close?code=4001&reason=bye&before=2") as ws:
        got = []
        try:
            async for m in ws:
                got.append(m)
        except ConnectionClosed:
            pass
        check("py close", got == ["m1", "m2"] and ws.close_code == 4001 and ws.close_reason == "bye",
              f"{got} {ws.close_code} {ws.close_reason!r}")
    async with websockets.connect(f"ws://{PY}/subprotocol", subprotocols=["x-nope", "chat.v2", "chat.v1"]) as ws:
        m = json.loads(await ws.recv())
        check("py subprotocol", ws.subprotocol == "chat.v2" and m["protocol"] == "chat.v2", m)
    async with websockets.connect(f"ws://{PY}/headers?q=1", extra_headers={"X-Probe": "yes"}) as ws:
        m = json.loads(await ws.recv())
        check("py headers", m["path"] == "/headers?q=1" and ["X-Probe", "yes"] in m["headers"], m)
    async with websockets.connect(f"ws://{PY}/extensions") as ws:
        m = json.loads(await ws.recv())
        check("py extensions", m["extensions"] and m["extensions"][0]["name"] == "permessage-deflate", m)
    async with websockets.connect(f"ws://{PY}/ping?n=3") as ws:
        m = await ws.recv()
        check("py ping", m == "pongs:3", m)
    try:
        async with websockets.connect(f"ws://{PY}/slow-upgrade", open_timeout=0.5):
            check("py slow-upgrade", False, "upgrade answered")
    except asyncio.TimeoutError:
        check("py slow-upgrade", True)


BAD = {  # path -> close code an RFC 6455 client sends (and the Wisp tests expect)
    "rsv1": 1002, "rsv2": 1002, "rsv3": 1002, "opcode3": 1002, "opcode11": 1002,
    "fragmented-ping": 1002, "long-ping": 1002, "long-close": 1002, "masked": 1002,
    "orphan-continuation": 1002, "data-in-fragment": 1002, "binary-in-fragment": 1002,
    "utf8": 1007, "utf8-split": 1007, "utf8-first": 1007, "utf8-truncated": 1007,
    "utf8-surrogate": 1007, "utf8-overlong": 1007,
    "close-code?code=1005": 1002, "close-code?code=999": 1002, "close-code?code=1100": 1002,
    "close-1byte": 1002, "close-utf8": 1007,
    "too-big?len=1048576": 1009, "too-big?len=1099511627776": 1009, "too-big-fragmented": 1009,
    # websockets itself reads the length as unsigned and reports 1009; the RFC code is 1002
    "len-top-bit": (1002, 1009),
}


async def raw_checks():
    async with websockets.connect(f"ws://{RAW}/record?id=chk-rec") as ws:
        await ws.send("one")
        check("raw record echo", await ws.recv() == "one")
        await ws.close(4000, "done")
    r = await report("chk-rec")
    c = r["connections"][0]
    check("raw report", r["complete"] and c["close"]["code"] == 4000 and c["close"]["reason"] == "done"
          and not c["violations"], r)
    for path, want in BAD.items():
        rid = "chk-" + uuid.uuid4().hex[:8]
        sep = "&" if "?" in path else "?"
        try:
            async with websockets.connect(f"ws://{RAW}/bad/{path}{sep}id={rid}&hold=3", max_size=1024) as ws:
                try:
                    async for _ in ws:
                        pass
                except ConnectionClosed:
                    pass
        except ConnectionClosed:
            pass
        r = await report(rid)
        conns = r["connections"]
        sent = conns[0]["close"]["code"] if conns and conns[0]["close"] else None
        want_set = want if isinstance(want, tuple) else (want,)
        check(f"raw bad/{path}", sent in want_set and not conns[0]["violations"],
              f"independent client sent close {sent}, expected {want}; {conns[0]['violations'] if conns else ''}")
    for name in ["bad-accept", "no-accept", "no-upgrade", "wrong-upgrade", "no-connection", "status-200",
                 "status-404", "protocol-unoffered", "extension-unoffered", "extension-unknown", "garbage",
                 "eof"]:
        try:
            async with websockets.connect(f"ws://{RAW}/hs/{name}", open_timeout=3, compression=None):
                check(f"raw hs/{name}", False, "handshake accepted")
        except (InvalidHandshake, InvalidMessage, EOFError, ConnectionError) as e:
            check(f"raw hs/{name}", True)
        except asyncio.TimeoutError:
            check(f"raw hs/{name}", False, "timed out")
    # websockets follows redirects itself, so the 301 is checked on the wire
    host, port = RAW.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /hs/redirect?to=chk-redir HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    writer.close()
    check("raw hs/redirect", head.startswith("HTTP/1.1 301 ") and f"/record?id=chk-redir" in head, head)
    async with websockets.connect(f"ws://{RAW}/frag-ping?id=chk-fp") as ws:
        check("raw frag-ping", await ws.recv() == "Hello, world")
    r = await report("chk-fp")
    check("raw frag-ping pong", any(f["op"] == 10 and f["text"] == "p1" for f in r["connections"][0]["frames"]), r)
    async with websockets.connect(f"ws://{RAW}/dribble", max_size=None) as ws:
        a, b = await ws.recv(), await ws.recv()
        check("raw dribble", a == "hello dribble" and len(b) == 70000 and b[250] == 250 and b[251] == 0)
    async with websockets.connect(f"ws://{RAW}/close-empty") as ws:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
        check("raw close-empty", ws.close_code == 1005, ws.close_code)


async def tls_checks():
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
    for host in ("localhost", "127.0.0.1"):
        async with websockets.connect(f"wss://{host}:{PYTLS.split(':')[1]}/echo", ssl=ctx) as ws:
            await ws.send("over tls")
            check(f"pytls echo via {host}", await ws.recv() == "over tls")
    try:
        async with websockets.connect(f"wss://{PYMTLS}/echo", ssl=ctx) as ws:
            await ws.send("x")
            await ws.recv()
        check("pymtls refuses a client without certificate", False, "accepted")
    except (ssl.SSLError, ConnectionError, ConnectionClosed, InvalidMessage, EOFError):
        check("pymtls refuses a client without certificate", True)
    mctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
    mctx.load_cert_chain(f"{CERTS}/client.pem", f"{CERTS}/client.key")
    async with websockets.connect(f"wss://{PYMTLS}/echo", ssl=mctx) as ws:
        await ws.send("mutual")
        check("pymtls echo with a client certificate", await ws.recv() == "mutual")


async def pmd_checks():
    """The raw server's zlib permessage-deflate peer, the TLS relay and nginx, seen by websockets."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    answer = "permessage-deflate%3B%20server_max_window_bits%3D10%3B%20client_max_window_bits%3D10"
    ext = [ClientPerMessageDeflateFactory(client_max_window_bits=10, server_max_window_bits=10)]
    async with websockets.connect(f"ws://{RAW}/pmd?id=chk-pmd&answer={answer}&frag=300&ping=1",
                                  extensions=ext, compression=None) as ws:
        msgs = ["x" * 5000, "compress me " * 400, "tiny"]
        for m in msgs:
            await ws.send(m)
        got = [await ws.recv() for _ in msgs]
        check("raw pmd echo (10-bit windows, fragmented, ping between)", got == msgs and
              ws.extensions and ws.extensions[0].name == "permessage-deflate", [len(g) for g in got])
    r = await report("chk-pmd")
    c = r["connections"][0]
    check("raw pmd report", not c["violations"] and all(m["compressed"] for m in c["messages"]), c["violations"])
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
    if RAWTLS:
        async with websockets.connect(f"wss://localhost:{RAWTLS.split(':')[1]}/record?id=chk-tls", ssl=ctx) as ws:
            await ws.send("relayed")
            check("rawtls relay echo", await ws.recv() == "relayed")
        r = await report("chk-tls")
        check("rawtls report", r["connections"] and r["connections"][0]["close"] is not None, r)
    if NGX:
        async with websockets.connect(f"wss://localhost:{NGX.split(':')[1]}/extensions", ssl=ctx) as ws:
            m = json.loads(await ws.recv())
            check("nginx in front of py: permessage-deflate passes through",
                  m["extensions"] and m["extensions"][0]["name"] == "permessage-deflate", m)


async def main():
    for name, coro in [("py", echo_checks(PY, "py")), ("py", py_checks()),
                       ("node", echo_checks(NODE, "node")), ("raw", raw_checks()), ("tls", tls_checks()),
                       ("pmd", pmd_checks())]:
        try:
            await asyncio.wait_for(coro, timeout=120)
        except Exception as e:
            check(f"{name} peer", False, repr(e))
    failed = results.count(False)
    print(f"peer checks: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
