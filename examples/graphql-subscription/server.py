#!/usr/bin/env python3
"""examples/graphql-subscription/server.py — a small GraphQL subscription server speaking the
graphql-transport-ws protocol (the one of graphql-ws / Apollo), enough for the example: one
subscription field, `ticks(n: Int!)`, which streams n {n, at} objects and completes.
Run with Debian's python3-websockets: /usr/bin/python3 server.py --port 8767"""
import argparse, asyncio, json, re, time
import websockets

SUB = re.compile(r"subscription\s*\{\s*ticks\s*\(\s*n\s*:\s*(\d+)\s*\)\s*\{([^}]*)\}\s*\}")

async def handler(ws, path=None):
    if ws.subprotocol != "graphql-transport-ws":
        await ws.close(4406, "Subprotocol not acceptable")
        return
    init = json.loads(await asyncio.wait_for(ws.recv(), 5))
    if init.get("type") != "connection_init":
        await ws.close(4400, "expected connection_init")
        return
    await ws.send(json.dumps({"type": "connection_ack"}))
    async for raw in ws:
        msg = json.loads(raw)
        if msg.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif msg.get("type") == "subscribe":
            sid, query = msg["id"], msg["payload"]["query"]
            m = SUB.search(query)
            if not m:
                await ws.send(json.dumps({"id": sid, "type": "error",
                                          "payload": [{"message": "unknown subscription"}]}))
                continue
            fields = m.group(2).split()
            for i in range(1, int(m.group(1)) + 1):
                item = {"n": i, "at": round(time.time(), 3)}
                await ws.send(json.dumps({"id": sid, "type": "next",
                                          "payload": {"data": {"ticks": {f: item[f] for f in fields if f in item}}}}))
                await asyncio.sleep(0.02)
            await ws.send(json.dumps({"id": sid, "type": "complete"}))
        elif msg.get("type") == "complete":
            pass

async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8767)
    args = ap.parse_args()
    async with websockets.serve(handler, "127.0.0.1", args.port, subprotocols=["graphql-transport-ws"]):
        print(f"listening on ws://127.0.0.1:{args.port}/graphql", flush=True)
        await asyncio.Future()

asyncio.run(main())
