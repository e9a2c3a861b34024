-- examples/chat/chat.lua — the seed's "Real-Time Chat" program (seed/websocket.md), run
-- against the chat server this example ships (examples/chat/server.py).
--
--   wisp exec examples/chat/chat.lua [URL] [TOKEN] [ROOM]
--   (defaults: ws://127.0.0.1:8765/ws, demo-token, lobby)
--
-- Two members, alice and bob, each in their own coroutine, join the room with connect_chat and
-- hold a short scripted conversation: whoever's line is next says it when the message before
-- it arrives. Everyone prints what they see; after the last line both leave, the server
-- closes their connections, and connect_chat returns. A wrong token fails the handshake (401).
local websocket = require("websocket")
local json = require("json")

local url, token, room = ...
url = url or "ws://127.0.0.1:8765/ws"
token = token or "demo-token"
room = room or "lobby"

-- The seed's connect_chat; adapted so that on_message can answer through the client, and the
-- member's name goes with the join.
local function connect_chat(room_id, name, on_message)
    local client, err = websocket.connect(url, {
        headers = {["Authorization"] = "Bearer " .. token}
    })
    if err then
        return nil, err
    end

    -- Join room
    client:send(json.encode({
        type = "join",
        room = room_id,
        name = name
    }))

    -- Message loop
    local ch = client:channel()
    while true do
        local msg, ok = ch:receive()
        if not ok then break end

        local data = json.decode(msg.data)
        on_message(client, data)
    end

    client:close()
    return true
end

local conversation = {
    {"alice", "Hi Bob, are you there?"},
    {"bob", "Hi Alice! Loud and clear."},
    {"alice", "Great, the WebSocket link works."},
    {"bob", "Bye for now."},
}

-- One member: prints every event and says its next line when the conversation reaches it.
local function member(name)
    local heard = 0 -- conversation lines seen so far
    local function say_next(client)
        local line = conversation[heard + 1]
        if line and line[1] == name then
            client:send(json.encode({type = "say", text = line[2]}))
        elseif not line then
            client:send(json.encode({type = "leave"}))
        end
    end
    return function(client, data)
        if data.type == "joined" then
            print(string.format("[%s] %s joined %s (members: %s)", name, data.name, data.room,
                table.concat(data.members, ", ")))
            if #data.members == 2 and heard == 0 then say_next(client) end
        elseif data.type == "message" then
            print(string.format("[%s] %s: %s", name, data.from, data.text))
            heard = heard + 1
            say_next(client)
        elseif data.type == "left" then
            print(string.format("[%s] %s left %s", name, data.name, data.room))
        end
    end
end

local done = channel.new(2)
for _, name in ipairs({"alice", "bob"}) do
    coroutine.spawn(function()
        local ok, err = connect_chat(room, name, member(name))
        done:send({name = name, ok = ok, err = err})
    end)
end

for _ = 1, 2 do
    local r = done:receive()
    if not r.ok then
        local d = r.err:details() or {}
        local why = d.status and (" (HTTP status " .. d.status .. ")") or ""
        return nil, errors.wrap(r.err, r.name .. " could not chat" .. why)
    end
    print(string.format("[%s] disconnected", r.name))
end
