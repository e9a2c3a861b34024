-- args: {py} {node}
-- timeout: 180
-- Many actors at once, each with its own connections: 20 actors x 10 connections x 20 echoes,
-- half against each server. Every actor gets exactly its own messages back (the net thread
-- routes each connection's frames to its owner's mailbox), and all of them finish.
local time = require("time")
local PY, NODE = ...

local ACTORS, CONNS, ROUNDS = 20, 10, 20
for a = 1, ACTORS do
  local url = "ws://" .. (a % 2 == 0 and PY or NODE) .. "/echo"
  assert(process.spawn("file://procs/echo_worker.lua", nil, process.pid(), url, tostring(a),
    tostring(CONNS), tostring(ROUNDS)))
end

local inbox = process.inbox()
local seen = {}
for _ = 1, ACTORS do
  local r = channel.select { inbox:case_receive(), time.after("120s"):case_receive() }
  assert(r.channel == inbox, "timed out waiting for the actors")
  local me, good = r.value:payload():data()
  assert(not seen[me], "actor " .. me .. " reported twice")
  seen[me] = true
  assert(good == CONNS * ROUNDS, "actor " .. me .. ": " .. good .. " of " .. CONNS * ROUNDS .. " echoes right")
end
print(ACTORS .. " actors x " .. CONNS .. " connections x " .. ROUNDS .. " echoes")
