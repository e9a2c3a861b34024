-- Spawns N idle actors, reports how long it took, waits for "go" on its own inbox... (then exits)
local time = require("time")
local n = tonumber((...)) or 10000
local t0 = time.now()
local pids = {}
for i = 1, n do pids[i] = assert(process.spawn("file://idle_child.lua")) end
local el = time.now():sub(t0)
print(string.format("spawned %d idle actors in %.1f ms (%.2f us/spawn)", n, el:seconds() * 1e3, el:seconds() * 1e6 / n))
print("ready")
time.sleep("1500ms") -- the driver reads RSS now
