#!/usr/bin/python3
"""examples/chat/server.py — a small chat-room server for examples/chat/chat.lua (Debian's
python3-websockets; run it with /usr/bin/python3).

    /usr/bin/python3 examples/chat/server.py [--port 8765] [--token demo-token]

Clients connect to ws://127.0.0.1:PORT/ws with "Authorization: Bearer <token>" (anything else
gets 401). Client messages (JSON): {"type": "join", "room": R, "name": N},
{"type": "say", "text": T}, {"type": "leave"}. The server sends to everyone in the room
{"type": "joined", "room", "name", "members": [...]}, {"type": "message", "room", "from",
"text"} and {"type": "left", "room", "name"}, and closes a leaver's connection with 1000.
"""
import argparse
import asyncio
import http
import json

import websockets
import websockets.legacy.server as wss

rooms = {}  # room -> {websocket: name}


class AuthProtocol(wss.WebSocketServerProtocol):
    token = ""

    async def process_request(self, path, headers):
        if path != "/ws":
            return http.HTTPStatus.NOT_FOUND, [], b"no such endpoint\n"
        if headers.get("Authorization") != f"Bearer {self.token}":
            return http.HTTPStatus.UNAUTHORIZED, [("WWW-Authenticate", "Bearer")], b"bad or missing token\n"
        return None


async def broadcast(room, event):
    data = json.dumps(event)
    for ws in list(rooms.get(room, {})):
        try:
            await ws.send(data)
        except websockets.ConnectionClosed:
            pass


async def handler(ws):
    room = name = None
    try:
        async for raw in ws:
            try:
                msg = json.loads(raw)
            except ValueError:
                await ws.close(1003, "messages are JSON")
                return
            kind = msg.get("type")
            if kind == "join" and room is None:
                room, name = str(msg.get("room", "lobby")), str(msg.get("name", "anonymous"))
                rooms.setdefault(room, {})[ws] = name
                await broadcast(room, {"type": "joined", "room": room, "name": name,
                                       "members": sorted(rooms[room].values())})
            elif kind == "say" and room is not None:
                await broadcast(room, {"type": "message", "room": room, "from": name, "text": str(msg.get("text", ""))})
            elif kind == "leave" and room is not None:
                break
            else:
                await ws.close(1008, f"unexpected {kind!r} message")
                return
    except websockets.ConnectionClosed:
        pass
    finally:
        if room is not None and ws in rooms.get(room, {}):
            del rooms[room][ws]
            await broadcast(room, {"type": "left", "room": room, "name": name})
    await ws.close(1000, "bye")


async def main():
    ap = argparse.ArgumentParser(description="chat-room server for examples/chat/chat.lua")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--token", default="demo-token")
    args = ap.parse_args()
    AuthProtocol.token = args.token
    async with websockets.serve(handler, "127.0.0.1", args.port, create_protocol=AuthProtocol) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"chat server listening on ws://127.0.0.1:{port}/ws (token: {args.token})", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
