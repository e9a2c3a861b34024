-- Links itself to the given pid, then crashes after a short sleep.
local time = require("time")
local target = ...
assert(process.link(target))
time.sleep("20ms")
error("linked partner crashed")
