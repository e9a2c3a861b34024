-- A ring of N actors passing one token HOPS times: this actor and N-1 spawned ones, each
-- forwarding to the next (bench/lua/ring_node.lua). The token carries the hops left; every
-- send takes one off, and the ring stops when this actor receives 0 or less.
local time = require("time")
local n = math.tointeger(tonumber((select(1, ...)))) or 10000
local hops = math.tointeger(tonumber((select(2, ...)))) or 1000000
local nxt = process.pid()
for _ = 1, n - 1 do nxt = assert(process.spawn("file://ring_node.lua", nil, nxt)) end
local inbox = process.inbox()
local t0 = time.now()
process.send(nxt, "t", hops - 1)
while true do
  local left = inbox:receive():payload():data()
  if left <= 0 then
    local el = time.now():sub(t0):seconds()
    print(string.format("RESULT actors=%d hops=%d seconds=%.6f", n, hops - left, el))
    return
  end
  process.send(nxt, "t", left - 1)
end
