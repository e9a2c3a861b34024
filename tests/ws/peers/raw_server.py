#!/usr/bin/python3
"""tests/ws/peers/raw_server.py — a hand-written WebSocket peer for the client's hard cases.

No WebSocket library: the handshake and every frame are built byte by byte, so the server can
send exactly one protocol violation per path and record exactly what the client answered.

    /usr/bin/python3 tests/ws/peers/raw_server.py [--port N]
    prints "READY raw <port>" on stdout once listening; logs go to stderr.

Paths (query parameters in brackets; `id` names the connection's record, see /report):

  normal peer
    /record[id, nopong, echo=1, hdr]
                                  echoes data messages, answers pings (unless nopong=1), records
                                  every client frame and the client's close frame; hdr=A:1|B:2
                                  adds those header lines to the 101
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
    /unsolicited-pong   a pong nobody asked for, then "after pong"
    /frag-many          one text message in 100 fragments, every fourth one empty
    /data-after-close   a close frame 1000 "done", then a text frame the client must drop
    /pmd[id, answer, frag, ping, bad]
                        a permessage-deflate peer on plain zlib: answers the upgrade with
                        Sec-WebSocket-Extensions = `answer` (verbatim; empty: declined) and
                        applies what it says: client messages are inflated with the client's
                        window (client_max_window_bits, else 15) and context (unless
                        client_no_context_takeover), a message that does not inflate is a
                        violation; each is echoed compressed with the server's window and
                        context, in frames of `frag` bytes (0: one frame; RSV1 on the first
                        only) with a ping between the first two when ping=1. bad=corrupt|utf8|
                        rsv1-cont first sends one broken compressed message (not DEFLATE data;
                        invalid UTF-8 in compressed text; RSV1 on a continuation frame)
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

  TLS (with --tls-cert/--tls-key): a second listener, "READY rawtls <port>", terminates TLS
  in this process (ssl.MemoryBIO) and relays the plaintext to the plain listener, so every
  path above works over wss. It records, per `id`, how the client ended the TLS session:
  {"close_notify": true|false, "end": "close_notify"|"eof"|"timeout"}; /report[tls=N] also
  waits for N such TLS records and returns them as "tls". The relay sends its own close_notify
  when the plain side ends and then waits up to 5 s for the client's.

  sessions over several connections (reconnecting clients)
    /session[id, plan=ok, ms=200]
                        the n-th connection with this id (n counts from 1) follows item n of
                        the comma-separated plan (the last item repeats): ok (101, "hello <n>",
                        then like /record), eof / rst (101, "hello <n>", echo for ms, then the
                        TCP connection ends without a close frame: FIN / RST), mute (101,
                        "hello <n>", echo and answer pings for ms, then read and record frames
                        without answering anything, for up to 30 s), close<code> (101,
                        "hello <n>", after ms a close frame with that code), 503 / 404 (that
                        status instead of 101), hs-eof (the connection ends before any answer),
                        redirect-loop (302 to /redir?loop=1)

  redirects (/redir[id, code=302, n=0, to=/record, rel, loop]): answers `code` with a
  Location: while n > 0 to /redir with n - 1 (the same parameters otherwise), then to `to` (a
  path on this server, or a whole URL); rel=1 writes paths without scheme and authority,
  loop=1 always points back to the same URL. Every hop with an id is recorded.

  broken handshakes (/hs/<name>[id, to]); the server then holds the socket open
    bad-accept no-accept no-upgrade wrong-upgrade no-connection status-200 status-404
    redirect[to] protocol-unoffered extension-unoffered extension-unknown garbage eof
    huge-headers
"""
import argparse
import asyncio
import ssl
import base64
import hashlib
import json
import re
import socket
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
tls_records = {}  # id -> list of {"close_notify", "end"} of TLS sessions (the rawtls relay)
changed = None


def log(*a):
    print("raw:", *a, file=sys.stderr, flush=True)


# ---- records ----------------------------------------------------------------------------------

def new_record(rid, target, headers):
    rec = {"id": rid, "target": target, "headers": headers, "frames": [], "messages": [], "close": None,
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
    entry = {"op": op, "fin": bool(fin), "rsv": rsv, "masked": bool(masked), "len": n,
             "t_ms": int((time.monotonic() - rec["t0"]) * 1000)}
    if op in (8, 9, 10) or (op == 1 and n <= 1024 and not rsv):
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


async def serve_frames(reader, writer, rec, *, echo=True, pong=True, hold=30.0, close_sent=False,
                       until=None):
    """Reads client frames until its close frame, EOF, `hold` idle seconds or the monotonic
    time `until`.
    Echoes complete data messages (echo), answers pings (pong), answers a close frame with the
    same payload unless we already sent ours. Returns "close", "eof" or "timeout"."""
    msg_op, parts, compressed = None, [], False
    while True:
        wait = hold if until is None else min(hold, until - time.monotonic())
        if wait <= 0:
            return "timeout"
        try:
            fin, op, data, rsv = await asyncio.wait_for(read_frame(reader, rec), timeout=wait)
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
            entry = {"op": msg_op, "compressed": compressed, "wire_len": len(payload)}
            if compressed and rec.get("deflate"):
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



# ---- /pmd: permessage-deflate on plain zlib ------------------------------------------------------

def parse_pmd_answer(answer):
    """The parameters of a permessage-deflate answer, as far as this peer applies them."""
    p = {"enabled": False, "server_bits": 15, "client_bits": 15, "server_nct": False, "client_nct": False}
    for elem in answer.split(","):
        parts = [x.strip() for x in elem.split(";")]
        if parts[0].lower() != "permessage-deflate":
            continue
        p["enabled"] = True
        for prm in parts[1:]:
            name, _, val = prm.partition("=")
            name, val = name.strip().lower(), val.strip().strip('"')
            if name == "server_max_window_bits" and val.isdigit():
                p["server_bits"] = int(val)
            elif name == "client_max_window_bits" and val.isdigit():
                p["client_bits"] = int(val)
            elif name == "server_no_context_takeover":
                p["server_nct"] = True
            elif name == "client_no_context_takeover":
                p["client_nct"] = True
        break
    return p


class PmdPeer:
    def __init__(self, p):
        self.p = p
        self.inf = zlib.decompressobj(-p["client_bits"])
        # zlib has no raw deflate window of 256 bytes; 9 bits never reaches further than 250
        self.dfl = zlib.compressobj(6, zlib.DEFLATED, -max(9, p["server_bits"]))

    def inflate(self, data):
        if self.p["client_nct"]:
            self.inf = zlib.decompressobj(-self.p["client_bits"])
        out = self.inf.decompress(data + b"\x00\x00\xff\xff")
        if self.inf.unconsumed_tail:
            raise zlib.error("inflate stopped early")
        return out

    def deflate(self, data):
        if self.p["server_nct"]:
            self.dfl = zlib.compressobj(6, zlib.DEFLATED, -max(9, self.p["server_bits"]))
        out = self.dfl.compress(data) + self.dfl.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def pmd_frames(op, payload, frag, ping):
    """A compressed message as frames of frag bytes (0: one frame), RSV1 on the first only."""
    if not frag or len(payload) <= frag:
        return frame(op, payload, rsv=4)
    out = []
    for i in range(0, len(payload), frag):
        piece = payload[i:i + frag]
        last = i + frag >= len(payload)
        out.append(frame(op if i == 0 else 0, piece, fin=last, rsv=4 if i == 0 else 0))
        if i == 0 and ping:
            out.append(frame(9, b"between"))
    return b"".join(out)


async def serve_pmd(reader, writer, rec, key, headers, q):
    answer = q.get("answer", "")
    writer.write(ok_101(key, [("Sec-WebSocket-Extensions", answer)] if answer else []))
    p = parse_pmd_answer(answer)
    rec["pmd"] = p
    rec["deflate"] = p["enabled"]  # RSV1 allowed on the first frame of data messages
    peer = PmdPeer(p) if p["enabled"] else None
    frag, ping = int(q.get("frag", "0")), q.get("ping") == "1"
    bad = q.get("bad")
    if bad and peer:
        if bad == "corrupt":
            writer.write(frame(2, b"\xff\xfe\xfd this is not deflate data", rsv=4))
        elif bad == "utf8":
            writer.write(frame(1, peer.deflate(b"valid start \xc3\x28 invalid"), rsv=4))
        elif bad == "rsv1-cont":
            body = peer.deflate(b"x" * 300)
            writer.write(frame(1, body[:5], fin=False, rsv=4) + frame(0, body[5:], rsv=4))
    await writer.drain()
    msg_op, parts, compressed = None, [], False
    while True:
        try:
            fin, op, data, rsv = await asyncio.wait_for(read_frame(reader, rec), timeout=30)
        except asyncio.TimeoutError:
            rec["end"] = "timeout"
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            rec["end"] = "eof"
            return
        if op == 8:
            code, reason = parse_close(data)
            rec["close"] = {"code": code, "reason": reason, "len": len(data),
                            "after_ms": int((time.monotonic() - rec["t0"]) * 1000)}
            writer.write(frame(8, data))
            try:
                await writer.drain()
            except ConnectionError:
                pass
            rec["end"] = "close"
            return
        if op == 9:
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
            entry = {"op": msg_op, "compressed": compressed, "wire_len": len(payload)}
            if compressed and not peer:
                rec["violations"].append("compressed message without permessage-deflate")
            elif compressed:
                try:
                    payload = peer.inflate(payload)
                except zlib.error as e:
                    rec["violations"].append(
                        f"message {len(rec['messages']) + 1} does not inflate with the agreed "
                        f"window ({p['client_bits']} bits, context {'off' if p['client_nct'] else 'kept'}): {e}")
                    payload = b""
            entry["len"] = len(payload)
            rec["messages"].append(entry)
            if peer:
                writer.write(pmd_frames(msg_op, peer.deflate(payload), frag, ping))
            else:
                writer.write(frame(msg_op, payload))
            msg_op, parts = None, []
        try:
            await writer.drain()
        except ConnectionError:
            rec["end"] = "eof"
            return


# ---- the TLS relay (rawtls) ----------------------------------------------------------------------

async def tls_relay(reader, writer, ctx):
    """Terminates TLS with a MemoryBIO and relays plaintext to the plain listener."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_side=True)
    info = {"close_notify": False, "end": None}
    rid = None
    pw = None

    def flush():
        data = out.read()
        if data:
            writer.write(data)

    try:
        while True:  # handshake
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                await writer.drain()
                data = await asyncio.wait_for(reader.read(65536), timeout=10)
                if not data:
                    return
                inc.write(data)
        flush()
        await writer.drain()
        pr, pw = await asyncio.open_connection("127.0.0.1", PORT)
        down_done = asyncio.Event()

        async def down():  # plain -> client
            try:
                while True:
                    data = await pr.read(65536)
                    if not data:
                        break
                    tls.write(data)
                    flush()
                    await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            try:  # our close_notify; unwrap then waits for the client's, which up() sees
                tls.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            flush()
            try:
                await writer.drain()
            except ConnectionError:
                pass
            down_done.set()

        dtask = asyncio.ensure_future(down())
        first = b""
        at_eof = False
        while True:  # client -> plain; the engine may already hold data (sent with Finished)
            try:
                while True:
                    plain = tls.read(65536)
                    if not plain:
                        raise ssl.SSLZeroReturnError()
                    if rid is None and len(first) < 8192:
                        first += plain
                        m = re.search(rb"[?&]id=([^& ]*)", first.split(b"\r\n", 1)[0])
                        if m or b"\r\n" in first:
                            rid = urllib.parse.unquote(m.group(1).decode()) if m else ""
                    pw.write(plain)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                info["close_notify"] = True
                info["end"] = "close_notify"
                break
            except ssl.SSLError:  # EOF without close_notify, or garbage
                info["end"] = "eof"
                break
            flush()
            await writer.drain()
            await pw.drain()
            if at_eof:
                info["end"] = "eof"
                break
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=5 if down_done.is_set() else 60)
            except asyncio.TimeoutError:
                info["end"] = "timeout"
                break
            except ConnectionError:
                data = b""
            if data:
                inc.write(data)
            else:
                inc.write_eof()
                at_eof = True
        if pw.can_write_eof():
            pw.write_eof()
        await asyncio.wait_for(down_done.wait(), timeout=5)
        dtask.cancel()
    except (asyncio.TimeoutError, ConnectionError, ssl.SSLError) as e:
        log(f"tls relay: {e!r}")
    finally:
        if pw is not None:
            pw.close()
        writer.close()
        if rid:
            tls_records.setdefault(rid, []).append(info)
            async with changed:
                changed.notify_all()

# ---- connection handler -----------------------------------------------------------------------

async def report(writer, q):
    rid = q.get("id", "")
    wait = int(q.get("wait", "5000")) / 1000
    count = int(q.get("count", "1"))
    tls_count = int(q.get("tls", "0"))

    def complete():
        conns = records.get(rid, [])
        return len(conns) >= count and all(c["ended"] for c in conns) and \
            len(tls_records.get(rid, [])) >= tls_count

    async with changed:
        try:
            await asyncio.wait_for(changed.wait_for(complete), timeout=wait)
        except asyncio.TimeoutError:
            pass
    body = json.dumps({"id": rid, "complete": complete(),
                       "connections": [public(c) for c in records.get(rid, [])],
                       "tls": tls_records.get(rid, [])}).encode()
    writer.write(frame(1, body) + close_frame(1000))
    await writer.drain()


def redirect_location(path, q):
    """The Location of a /redir hop."""
    base = "" if q.get("rel") == "1" else f"ws://127.0.0.1:{PORT}"
    if q.get("loop") == "1":
        return base + path + "?" + urllib.parse.urlencode(q)
    n = int(q.get("n", "0"))
    if n > 0:
        nq = dict(q)
        nq["n"] = str(n - 1)
        return base + path + "?" + urllib.parse.urlencode(nq)
    to = q.get("to", "/record")
    return to if "://" in to else base + to


async def serve_session(reader, writer, rec, key, q):
    """/session: one connection of a session; its number picks the item of the plan."""
    plan = [x.strip() for x in q.get("plan", "ok").split(",") if x.strip()] or ["ok"]
    n = len(records.get(q.get("id"), [])) or 1
    item = plan[min(n, len(plan)) - 1]
    rec["session"] = {"n": n, "item": item}
    ms = int(q.get("ms", "200"))
    if item in ("503", "404"):
        text = "Service Unavailable" if item == "503" else "Not Found"
        writer.write(response(f"HTTP/1.1 {item} {text}", [("Content-Length", "0")]))
        await writer.drain()
        await end_record(rec, "hs")
        return
    if item == "hs-eof":
        await end_record(rec, "hs")
        return
    if item == "redirect-loop":
        writer.write(response("HTTP/1.1 302 Found", [("Location", f"ws://127.0.0.1:{PORT}/redir?loop=1"),
                                                     ("Content-Length", "0")]))
        await writer.drain()
        await end_record(rec, "hs")
        return
    writer.write(ok_101(key) + frame(1, f"hello {n}".encode()))
    await writer.drain()
    if item == "ok":
        how = await serve_frames(reader, writer, rec)
    elif item in ("eof", "rst"):
        how = await serve_frames(reader, writer, rec, until=time.monotonic() + ms / 1000)
        if how == "timeout":
            how = item
            if item == "rst":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort() if item == "rst" else writer.close()
    elif item == "mute":
        how = await serve_frames(reader, writer, rec, until=time.monotonic() + ms / 1000)
        if how == "timeout":
            how = "mute"
            deadline = time.monotonic() + 30
            try:
                while time.monotonic() < deadline:
                    fin, op, data, rsv = await asyncio.wait_for(read_frame(reader, rec),
                                                                timeout=deadline - time.monotonic())
                    if op == 8:
                        code, reason = parse_close(data)
                        rec["close"] = {"code": code, "reason": reason, "len": len(data),
                                        "after_ms": int((time.monotonic() - rec["t0"]) * 1000)}
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                pass
    elif item.startswith("close") and item[5:].isdigit():
        how = await serve_frames(reader, writer, rec, until=time.monotonic() + ms / 1000)
        if how == "timeout":
            writer.write(close_frame(int(item[5:]), b"session over"))
            await writer.drain()
            how = await serve_frames(reader, writer, rec, close_sent=True, hold=5)
    else:
        writer.write(close_frame(1011, f"unknown plan item {item}".encode()))
        how = await serve_frames(reader, writer, rec, close_sent=True, hold=5)
    await end_record(rec, how)


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

        if path == "/redir":
            code = int(q.get("code", "302"))
            reason = {301: "Moved Permanently", 302: "Found", 303: "See Other",
                      307: "Temporary Redirect", 308: "Permanent Redirect"}.get(code, "Redirect")
            rec["location"] = redirect_location(path, q)
            writer.write(response(f"HTTP/1.1 {code} {reason}",
                                  [("Location", rec["location"]), ("Content-Length", "0")]))
            await writer.drain()
            await end_record(rec, "redirect")
            return

        if path == "/session":
            await serve_session(reader, writer, rec, key, q)
            return

        if path == "/pmd":
            await serve_pmd(reader, writer, rec, key, headers, q)
            await end_record(rec, rec["end"] or "close")
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
            ext = [("Sec-WebSocket-Extensions",
                    "permessage-deflate; client_no_context_takeover; server_no_context_takeover")]
            writer.write(ok_101(key, ext if rec["deflate"] else []))
        else:  # hdr=Name:value|Name:value adds header lines to the 101
            extra = [tuple(x.strip() for x in h.split(":", 1)) for h in q.get("hdr", "").split("|") if ":" in h]
            writer.write(ok_101(key, extra))
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
        elif path == "/unsolicited-pong":
            writer.write(frame(10, b"unasked") + frame(1, b"after pong"))
        elif path == "/frag-many":
            parts = [b"" if i % 4 == 3 else f"<{i}>".encode() for i in range(100)]
            out = [frame(1 if i == 0 else 0, p, fin=(i == 99)) for i, p in enumerate(parts)]
            writer.write(b"".join(out))
        elif path == "/data-after-close":
            writer.write(close_frame(1000, b"done") + frame(1, b"must not be delivered"))
            sent_close = True
        elif path == "/pinger":
            writer.write(frame(9, q.get("data", "are you there").encode()))
        elif path not in ("/record", "/deflate", "/early", "/slow-101", "/unsolicited-pong", "/frag-many"):
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
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    changed = asyncio.Condition()
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, limit=1 << 20)
    PORT = server.sockets[0].getsockname()[1]
    print(f"READY raw {PORT}", flush=True)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        tserver = await asyncio.start_server(lambda r, w: tls_relay(r, w, ctx), "127.0.0.1", 0)
        print(f"READY rawtls {tserver.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
