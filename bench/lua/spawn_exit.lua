-- Create + destroy: N actors that return at once, awaited one by one with exec (round trip).
local time = require("time")
local n = tonumber((...)) or 10000
local t0 = time.now()
for i = 1, n do assert(process.exec("file://noop.lua")) end
local el = time.now():sub(t0)
print(string.format("exec (create+run+destroy+EXIT) x%d: %.2f us each", n, el:seconds() * 1e6 / n))
-- pipelined: spawn monitored, then collect the EXITs
local ev = process.events()
t0 = time.now()
for i = 1, n do assert(process.spawn_monitored("file://noop.lua")) end
for i = 1, n do ev:receive() end
el = time.now():sub(t0)
print(string.format("spawn_monitored+EXIT pipelined x%d: %.2f us each", n, el:seconds() * 1e6 / n))
