#!/usr/bin/python3
"""tests/ws/peers/raw_server.py — a hand-written WebSocket peer for the client's hard cases.

No WebSocket library: the handshake and every frame are built byte by byte, so the server can
send exactly one protocol violation per path and record exactly what the client answered.

    /usr/bin/python3 tests/ws/peers/raw_server.py [--port N]
    prints "READY raw <port>" on stdout once listening; logs go to stderr.

Paths (query parameters in brackets; `id` names the connection's record, see /report):

  normal peer
    /record[id, nopong, echo=1]   echoes data messages, answers pings (unless nopong=1), records
                                  every client frame and the client's close frame
    /tick[id, ms=100, n=10]       sends "tick <i>" every ms milliseconds, n times, then serves
    /noread[id, secs=20]          completes the handshake, then never reads the socket
    /report[id, wait=5000, count=1]
                                  side channel: one text message with the JSON record of every
                                  connection made with that id, once `count` of them exist and
                                  all have ended (or `wait` ms passed), then a 1000 close

  legal edge cases (the client must accept them)
    /early[text]        the 101 response and a text frame in one write
    /slow-101           the 101 response dribbled one byte at a time
    /dribble            a text and a 70000-byte binary message (64-bit length) in small pieces
    /frag-ping[id]      "Hello, " + ping "p1" + "wor" + "ld": one message, one pong
    /frag-utf8          "abc \\xe2\\x82" + "\\xac def": a code point split across fragments
    /empty              an empty text and an empty binary message
    /drop               "last words", then the TCP connection ends without a close frame
    /close-empty        a close frame with no payload (the client reports 1005)
    /pinger[id, data]   one ping; the pong is recorded
    /deflate[id]        accepts a permessage-deflate offer with
                        "client_no_context_takeover; server_no_context_takeover", records for
                        each client message whether it came compressed (RSV1) and its inflated
                        size (each message inflated on its own: a client that keeps its window
                        despite client_no_context_takeover is caught), echoes it uncompressed

  one violation each, sent after a correct handshake (/bad/<name>[id, ...]); the server then
  waits up to `hold` seconds (default 10) for the client's close frame before it sends the rest
  of an unfinished message, so a client that waits for the message end is caught by timing
    rsv1 rsv2 rsv3 opcode3 opcode11 fragmented-ping long-ping long-close masked
    orphan-continuation data-in-fragment binary-in-fragment
    utf8 utf8-split utf8-first utf8-truncated utf8-surrogate utf8-overlong
    close-code[code] close-1byte close-utf8 too-big[len] too-big-fragmented len-top-bit

  broken handshakes (/hs/<name>[id, to]); the server then holds the socket open
    bad-accept no-accept no-upgrade wrong-upgrade no-connection status-200 status-404
    redirect[to] protocol-unoffered extension-unoffered extension-unknown garbage eof
    huge-headers
"""
import argparse
import asyncio
import base64
import hashlib
import json
import struct
import sys
import time
import urllib.parse
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_FRAME = 64 << 20
PORT = 0

# id -> list of connection records (dicts); an asyncio.Condition wakes /report waiters.
records = {}
changed = None


def log(*a):
    print("raw:", *a, file=sys.stderr, flush=True)


# ---- records ----------------------------------------------------------------------------------

def new_record(rid, target, headers):
    rec = {"id": rid, "target": target, "headers": headers, "frames": [], "close": None,
           "violations": [], "ended": False, "end": None, "t0": time.monotonic()}
    if rid is not None:
        records.setdefault(rid, []).append(rec)
    return rec


async def end_record(rec, how):
    if rec["ended"]:
        return
    rec["ended"] = True
    rec["end"] = how
    rec["duration_ms"] = int((time.monotonic() - rec["t0"]) * 1000)
    async with changed:
        changed.notify_all()


def public(rec):
    out = {k: v for k, v in rec.items() if k != "t0"}
    return out


# ---- frames -----------------------------------------------------------------------------------

def frame(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload) if length is None else length
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        hdr = bytes([b0, mbit | n])
    elif n < 65536:
        hdr = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask is not None:
        hdr += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + payload


def close_frame(code=None, reason=b""):
    if code is None:
        return frame(8)
    return frame(8, struct.pack("!H", code) + reason)


async def read_frame(reader, rec):
    """One client frame, unmasked. Records it and any client-side violation."""
    h = await reader.readexactly(2)
    fin, rsv, op = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 15
    masked, n = h[1] >> 7, h[1] & 127
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    if n > MAX_FRAME:
        rec["violations"].append(f"frame of {n} bytes")
        raise ConnectionError("client frame too large")
    key = await reader.readexactly(4) if masked else None
    data = await reader.readexactly(n)
    if key:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data)) if n < 4096 else unmask_fast(data, key)
    entry = {"op": op, "fin": bool(fin), "rsv": rsv, "masked": bool(masked), "len": n}
    if op in (8, 9, 10) or (op == 1 and n <= 1024):
        entry["text"] = data.decode("utf-8", errors="replace")
    if op in (8, 9, 10):
        entry["hex"] = data.hex()
    rec["frames"].append(entry)
    if not masked:
        rec["violations"].append(f"unmasked frame (opcode {op})")
    allowed = 4 if rec.get("deflate") and op in (1, 2) else 0
    if rsv & ~allowed:
        rec["violations"].append(f"rsv bits {rsv} set (opcode {op})")
    return bool(fin), op, data, rsv


def unmask_fast(data, key):
    n = len(data)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big")


def parse_close(data):
    if len(data) >= 2:
        return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", errors="replace")
    return None, ""


async def serve_frames(reader, writer, rec, *, echo=True, pong=True, hold=30.0, close_sent=False):
    """Reads client frames until its close frame, EOF or `hold` idle seconds.
    Echoes complete data messages (echo), answers pings (pong), answers a close frame with the
    same payload unless we already sent ours. Returns "close", "eof" or "timeout"."""
    msg_op, parts, compressed = None, [], False
    while True:
        try:
            fin, op, data, rsv = await asyncio.wait_for(read_frame(reader, rec), timeout=hold)
        except asyncio.TimeoutError:
            return "timeout"
        except (asyncio.IncompleteReadError, ConnectionError):
            return "eof"
        if op == 8:
            code, reason = parse_close(data)
            rec["close"] = {"code": code, "reason": reason, "len": len(data),
                            "after_ms": int((time.monotonic() - rec["t0"]) * 1000)}
            if not close_sent:
                writer.write(frame(8, data))
            try:
                await writer.drain()
            except ConnectionError:
                pass
            return "close"
        if op == 9:
            if pong:
                writer.write(frame(10, data))
        elif op == 10:
            pass
        elif op in (1, 2) and msg_op is None:
            msg_op, parts, compressed = op, [data], bool(rsv & 4)
        elif op == 0 and msg_op is not None:
            parts.append(data)
        else:
            rec["violations"].append(f"unexpected opcode {op}")
        if op in (0, 1, 2) and fin and msg_op is not None:
            payload = b"".join(parts)
            if rec.get("deflate"):
                entry = {"op": msg_op, "compressed": compressed, "wire_len": len(payload)}
                if compressed:
                    try:
                        payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
                    except zlib.error as e:
                        rec["violations"].append(f"message {len(rec['messages']) + 1} does not inflate on its own: {e}")
                        payload = b""
                entry["len"] = len(payload)
                rec["messages"].append(entry)
            if echo:
                writer.write(frame(msg_op, payload))
            msg_op, parts = None, []
        try:
            await writer.drain()
        except ConnectionError:
            return "eof"


# ---- handshake --------------------------------------------------------------------------------

async def read_request(reader):
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append([k.strip(), v.strip()])
    return method, target, headers


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def response(status_line, headers, body=b""):
    return (status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode() + body


def ok_101(key, extra=()):
    return response("HTTP/1.1 101 Switching Protocols",
                    [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                     ("Sec-WebSocket-Accept", accept_for(key))] + list(extra))


def broken_handshake(name, key, q):
    acc = accept_for(key)
    up, conn = ("Upgrade", "websocket"), ("Connection", "Upgrade")
    if name == "bad-accept":
        return response("HTTP/1.1 101 Switching Protocols", [up, conn, ("Sec-WebSocket-Accept", accept_for(key + "x"))])
    if name == "no-accept":
        return response("HTTP/1.1 101 Switching Protocols", [up, conn])
    if name == "no-upgrade":
        return response("HTTP/1.1 101 Switching Protocols", [conn, ("Sec-WebSocket-Accept", acc)])
    if name == "wrong-upgrade":
        return response("HTTP/1.1 101 Switching Protocols", [("Upgrade", "h2c"), conn, ("Sec-WebSocket-Accept", acc)])
    if name == "no-connection":
        return response("HTTP/1.1 101 Switching Protocols", [up, ("Sec-WebSocket-Accept", acc)])
    if name == "status-200":
        return response("HTTP/1.1 200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")], b"ok\n")
    if name == "status-404":
        return response("HTTP/1.1 404 Not Found", [("Content-Length", "10")], b"not found\n")
    if name == "redirect":
        loc = f"ws://127.0.0.1:{PORT}/record?id={urllib.parse.quote(q.get('to', 'redirected'))}"
        return response("HTTP/1.1 301 Moved Permanently", [("Location", loc), ("Content-Length", "0")])
    if name == "protocol-unoffered":
        return ok_101(key, [("Sec-WebSocket-Protocol", "evil")])
    if name == "extension-unoffered":
        return ok_101(key, [("Sec-WebSocket-Extensions", "permessage-deflate")])
    if name == "extension-unknown":
        return ok_101(key, [("Sec-WebSocket-Extensions", "x-unknown-extension")])
    if name == "garbage":
        return b"SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP\r\n\r\n"
    if name == "eof":
        return b""
    if name == "huge-headers":
        return ok_101(key, [(f"X-Filler-{i}", "y" * 200) for i in range(100)])
    return None


# ---- violations -------------------------------------------------------------------------------
# name -> (frames sent at once, frames sent after the hold if the client has not failed yet)

def violation(name, q):
    if name == "rsv1":
        return [frame(1, b"hi", rsv=4)], []
    if name == "rsv2":
        return [frame(1, b"hi", rsv=2)], []
    if name == "rsv3":
        return [frame(1, b"hi", rsv=1)], []
    if name == "opcode3":
        return [frame(3, b"hi")], []
    if name == "opcode11":
        return [frame(11, b"")], []
    if name == "fragmented-ping":
        return [frame(9, b"ab", fin=False)], [frame(0, b"cd")]
    if name == "long-ping":
        return [frame(9, b"x" * 126)], []
    if name == "long-close":
        return [frame(8, struct.pack("!H", 1000) + b"r" * 124)], []
    if name == "masked":
        return [frame(1, b"hello", mask=b"\x11\x22\x33\x44")], []
    if name == "orphan-continuation":
        return [frame(0, b"hi", fin=True)], []
    if name == "data-in-fragment":
        return [frame(1, b"part", fin=False), frame(1, b"new")], []
    if name == "binary-in-fragment":
        return [frame(1, b"part", fin=False), frame(2, b"new")], []
    if name == "utf8":
        return [frame(1, b"ok \xc3\x28 bad")], []
    if name == "utf8-split":
        return [frame(1, b"abc \xe2\x82", fin=False), frame(0, b"\x28 rest", fin=False)], [frame(0, b" end")]
    if name == "utf8-first":
        return [frame(1, b"\xff", fin=False)], [frame(0, b"end")]
    if name == "utf8-truncated":
        return [frame(1, b"abc \xe2\x82")], []
    if name == "utf8-surrogate":
        return [frame(1, b"\xed\xa0\x80")], []
    if name == "utf8-overlong":
        return [frame(1, b"\xc0\xaf")], []
    if name == "close-code":
        return [close_frame(int(q.get("code", "1005")), b"bad code")], []
    if name == "close-1byte":
        return [frame(8, b"\x03")], []
    if name == "close-utf8":
        return [frame(8, struct.pack("!H", 1000) + b"bad \xff\xfe")], []
    if name == "too-big":
        n = int(q.get("len", str(1 << 20)))
        head = frame(2, b"", length=n)
        first = b"z" * min(n, 100)
        rest = [b"z" * (n - len(first))] if n <= (16 << 20) else []
        return [head + first], rest
    if name == "too-big-fragmented":
        return [frame(1, b"a" * 600, fin=False), frame(0, b"b" * 600, fin=False)], [frame(0, b"c")]
    if name == "len-top-bit":
        return [bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 4]) + b"xxxx"], []
    return None


# ---- connection handler -----------------------------------------------------------------------

async def report(writer, q):
    rid = q.get("id", "")
    wait = int(q.get("wait", "5000")) / 1000
    count = int(q.get("count", "1"))

    def complete():
        conns = records.get(rid, [])
        return len(conns) >= count and all(c["ended"] for c in conns)

    async with changed:
        try:
            await asyncio.wait_for(changed.wait_for(complete), timeout=wait)
        except asyncio.TimeoutError:
            pass
    body = json.dumps({"id": rid, "complete": complete(),
                       "connections": [public(c) for c in records.get(rid, [])]}).encode()
    writer.write(frame(1, body) + close_frame(1000))
    await writer.drain()


async def handle(reader, writer):
    rec = None
    try:
        try:
            method, target, headers = await asyncio.wait_for(read_request(reader), timeout=10)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            return
        u = urllib.parse.urlsplit(target)
        path, q = u.path, dict(urllib.parse.parse_qsl(u.query))
        key = header(headers, "Sec-WebSocket-Key") or ""
        # the report connection itself is never part of the record it reports
        rec = new_record(None if path == "/report" else q.get("id"), target, headers)

        if path.startswith("/hs/"):
            data = broken_handshake(path[4:], key, q)
            if data is None:
                writer.write(response("HTTP/1.1 404 Not Found", [("Content-Length", "0")]))
                return
            writer.write(data)
            await writer.drain()
            if path == "/hs/eof":
                return
            # Hold the socket: the client must judge the response, not our EOF. Anything it
            # sends now (it must not send frames) is recorded.
            try:
                extra = await asyncio.wait_for(reader.read(65536), timeout=10)
                if extra:
                    rec["violations"].append(f"client sent {len(extra)} bytes after a failed handshake")
            except (asyncio.TimeoutError, ConnectionError):
                pass
            await end_record(rec, "hs")
            return

        if path == "/slow-101":
            for b in ok_101(key):
                writer.write(bytes([b]))
                await writer.drain()
                await asyncio.sleep(0.002)
        elif path == "/early":
            writer.write(ok_101(key) + frame(1, q.get("text", "early bird").encode()))
        elif path == "/deflate":
            offer = ",".join(v for k, v in headers if k.lower() == "sec-websocket-extensions")
            rec["deflate"] = "permessage-deflate" in offer
            rec["messages"] = []
            ext = [("Sec-WebSocket-Extensions",
                    "permessage-deflate; client_no_context_takeover; server_no_context_takeover")]
            writer.write(ok_101(key, ext if rec["deflate"] else []))
        else:
            writer.write(ok_101(key))
        await writer.drain()

        if path == "/report":
            await report(writer, q)
            await asyncio.wait_for(reader.read(1024), timeout=2)
            return

        if path.startswith("/bad/"):
            v = violation(path[5:], q)
            if v is None:
                writer.write(close_frame(1011, b"unknown path"))
                return
            now, later = v
            for f in now:
                writer.write(f)
            await writer.drain()
            hold = float(q.get("hold", "10"))
            how = await serve_frames(reader, writer, rec, echo=False, hold=hold)
            if how == "timeout" and later:
                rec["violations"].append("client did not fail before the hold ended")
                for f in later:
                    writer.write(f)
                await writer.drain()
                how = await serve_frames(reader, writer, rec, echo=False, hold=5)
            await end_record(rec, how)
            return

        sent_close = False
        if path == "/tick":
            ms, n = int(q.get("ms", "100")), int(q.get("n", "10"))
            for i in range(1, n + 1):
                await asyncio.sleep(ms / 1000)
                writer.write(frame(1, f"tick {i}".encode()))
                await writer.drain()
        elif path == "/noread":
            await asyncio.sleep(float(q.get("secs", "20")))
            await end_record(rec, "timeout")
            return
        elif path == "/dribble":
            data = frame(1, b"hello dribble") + frame(2, bytes(i % 251 for i in range(70000)))
            step = 1
            i = 0
            while i < len(data):
                writer.write(data[i:i + step])
                await writer.drain()
                i += step
                step = 1 if i < 40 else 997
                await asyncio.sleep(0.001)
        elif path == "/frag-ping":
            writer.write(frame(1, b"Hello, ", fin=False) + frame(9, b"p1") + frame(0, b"wor", fin=False) + frame(0, b"ld"))
        elif path == "/frag-utf8":
            writer.write(frame(1, b"abc \xe2\x82", fin=False) + frame(0, b"\xac def"))
        elif path == "/empty":
            writer.write(frame(1, b"") + frame(2, b""))
        elif path == "/drop":
            writer.write(frame(1, b"last words"))
            await writer.drain()
            await end_record(rec, "drop")
            return
        elif path == "/close-empty":
            writer.write(close_frame(None))
            sent_close = True
        elif path == "/pinger":
            writer.write(frame(9, q.get("data", "are you there").encode()))
        elif path not in ("/record", "/deflate"):
            writer.write(close_frame(1011, b"unknown path"))
            sent_close = True
        await writer.drain()
        how = await serve_frames(reader, writer, rec, echo=q.get("echo", "1") == "1",
                                 pong=q.get("nopong") != "1", close_sent=sent_close)
        await end_record(rec, how)
    except Exception as e:  # one bad connection never takes the server down
        log(f"connection error: {e!r}")
    finally:
        if rec is not None:
            await end_record(rec, rec["end"] or "error")
        try:
            writer.close()
        except Exception:
            pass


async def main():
    global PORT, changed
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    changed = asyncio.Condition()
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, limit=1 << 20)
    PORT = server.sockets[0].getsockname()[1]
    print(f"READY raw {PORT}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
