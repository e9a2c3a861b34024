-- One actor of bench/lua/ring.lua: forwards the token to the next actor, one hop taken off.
local nxt = ...
local inbox = process.inbox()
while true do
  local left = inbox:receive():payload():data()
  process.send(nxt, "t", left - 1)
end
