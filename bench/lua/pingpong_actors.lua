-- Round trips per second between two actors (on different workers when there are several).
local time = require("time")
local rounds = tonumber((...)) or 200000
local peer = assert(process.spawn("file://pong_child.lua"))
local inbox = process.inbox()
local t0 = time.now()
for i = 1, rounds do
  process.send(peer, "ping", i)
  inbox:receive()
end
local el = time.now():sub(t0):seconds()
print(string.format("RESULT rtts=%d seconds=%.6f", rounds, el))
process.send(peer, "stop")
