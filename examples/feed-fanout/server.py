#!/usr/bin/env python3
"""examples/feed-fanout/server.py — a market-data feed: after a subscribe message it streams
numbered ticks for the requested symbols, round robin. /usr/bin/python3 server.py --port 8768"""
import argparse, asyncio, json, random
import websockets

async def handler(ws, path=None):
    sub = json.loads(await asyncio.wait_for(ws.recv(), 5))
    symbols = sub.get("symbols", [])
    n = int(sub.get("count", 30))
    for i in range(n):
        sym = symbols[i % len(symbols)]
        await ws.send(json.dumps({"seq": i + 1, "symbol": sym, "price": round(100 + random.random(), 4)}))
        await asyncio.sleep(0.005)
    await ws.close(1000, "feed complete")

async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8768)
    args = ap.parse_args()
    async with websockets.serve(handler, "127.0.0.1", args.port):
        print(f"listening on ws://127.0.0.1:{args.port}/feed", flush=True)
        await asyncio.Future()

asyncio.run(main())
