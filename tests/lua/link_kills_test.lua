-- expect-exit: 1
-- expect-stderr: linked process
-- expect-stderr: linked partner crashed
-- A linked partner's crash kills an actor that does not trap links.
local time = require("time")
assert(process.spawn("file://procs/linked_crash.lua", nil, process.pid()))
time.sleep("5s")
error("not reached: the link should have killed us")
