-- Spawns N idle actors (bench/suites/actors.py). Prints "BASE" and waits, so the driver can
-- read the RSS before; spawns; prints the RESULT line and "HOLD", then sleeps while the driver
-- reads the RSS again and ends the process.
local time = require("time")
local n = tonumber((...)) or 10000
print("BASE")
time.sleep("300ms")
local t0 = time.now()
local pids = {}
for i = 1, n do pids[i] = assert(process.spawn("file://idle_child.lua")) end
local el = time.now():sub(t0):seconds()
print(string.format("RESULT actors=%d seconds=%.6f us_per_spawn=%.3f", n, el, el * 1e6 / n))
print("HOLD")
time.sleep("600s")
