-- Create + destroy: N actors that return at once, each awaited with exec (spawn, run, exit,
-- result back) before the next; then the same pipelined with spawn_monitored and the EXITs.
local time = require("time")
local n = tonumber((...)) or 10000
local t0 = time.now()
for i = 1, n do assert(process.exec("file://noop.lua")) end
local seq = time.now():sub(t0):seconds()
local ev = process.events()
t0 = time.now()
for i = 1, n do assert(process.spawn_monitored("file://noop.lua")) end
for i = 1, n do ev:receive() end
local piped = time.now():sub(t0):seconds()
print(string.format("RESULT n=%d exec_us=%.3f pipelined_us=%.3f", n, seq * 1e6 / n, piped * 1e6 / n))
