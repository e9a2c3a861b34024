-- Send/receive pairs per second between two coroutines of one actor (unbuffered channel).
local time = require("time")
local n = tonumber((...)) or 1000000
local a, b = channel.new(), channel.new()
coroutine.spawn(function()
  for i = 1, n do a:send(i) end
end)
local t0 = time.now()
for i = 1, n do a:receive() end
local el = time.now():sub(t0):seconds()
print(string.format("unbuffered channel: %d pairs in %.3f s = %.0f pairs/s", n, el, n / el))
local c = channel.new(64)
coroutine.spawn(function() for i = 1, n do c:send(i) end end)
t0 = time.now()
for i = 1, n do c:receive() end
el = time.now():sub(t0):seconds()
print(string.format("buffered(64) channel: %d pairs in %.3f s = %.0f pairs/s", n, el, n / el))
