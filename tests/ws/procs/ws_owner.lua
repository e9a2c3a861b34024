-- A child actor that owns a WebSocket connection and then ends in the way `mode` says:
-- "return" (normal end), "error" (fails), "block" (sleeps a minute; the parent terminates it first).
-- Arguments: parent pid, raw server address, record id, mode. Tells the parent "ready" once
-- its connection has echoed a message.
local websocket = require("websocket")
local time = require("time")
local parent, raw, id, mode = ...

local c = assert(websocket.connect("ws://" .. raw .. "/record?id=" .. id))
assert(c:send("hello from the owner"))
local m, ok = c:channel():receive()
assert(ok and m.data == "hello from the owner")
process.send(parent, "ready", id)
if mode == "error" then
  error("the owner fails on purpose")
elseif mode == "block" then
  time.sleep("60s")
end
return "done"
