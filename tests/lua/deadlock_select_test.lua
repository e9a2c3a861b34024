-- expect-exit: 1
-- expect-stderr: deadlock
-- A select over channels that nothing can feed is a deadlock too (after the timer fires).
local time = require("time")
local t = time.after("10ms")
t:receive()
channel.select { channel.new():case_receive(), t:case_receive() } -- t is closed: returns
channel.select { channel.new():case_receive(), channel.new():case_receive() }
