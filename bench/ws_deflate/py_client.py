#!/usr/bin/python3
"""bench/ws_deflate/py_client.py — python-websockets' side of bench/ws_deflate_conns.py: the same
workload as conns.lua (COUNT connections, one 1 KiB JSON echo each, then held), with the
library's permessage-deflate defaults ("context_takeover": client_max_window_bits offered,
memLevel 5), client/server_no_context_takeover ("no_context"), or none ("disabled").

    /usr/bin/python3 bench/ws_deflate/py_client.py URL COUNT PARALLEL COMPRESSION
"""
import asyncio
import gc
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


def json_1k(i):
    s, k = "", 0
    while len(s) < 1024:
        s += f'{{"seq":{i * 100 + k},"sym":"BTC-USD","px":{60000 + (i * 37 + k * 11) % 9000}.{(i + k) % 100:02d},"qty":{(i * 13 + k) % 500}}},'
        k += 1
    return s[:1024]


async def main():
    url, count, parallel, compression = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if compression == "disabled":
        kw = {"compression": None}
    elif compression == "no_context":
        kw = {"extensions": [ClientPerMessageDeflateFactory(
            client_no_context_takeover=True, server_no_context_takeover=True,
            compress_settings={"memLevel": 5})], "compression": None}
    else:
        kw = {"compression": "deflate"}
    print("@@base", flush=True)
    await asyncio.sleep(1.5)
    clients = []
    per = (count + parallel - 1) // parallel

    async def worker(p):
        for i in range(p * per + 1, min((p + 1) * per, count) + 1):
            ws = await websockets.connect(url, ping_interval=None, max_queue=32, open_timeout=60, **kw)
            msg = json_1k(i)
            await ws.send(msg)
            if await ws.recv() != msg:
                raise RuntimeError(f"connection {i}: echo differs")
            clients.append(ws)

    await asyncio.gather(*(worker(p) for p in range(parallel)))
    gc.collect()
    print(f"@@hold {len(clients)}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
