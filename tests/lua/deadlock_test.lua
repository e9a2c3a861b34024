-- expect-exit: 1
-- expect-stderr: deadlock
-- expect-stderr: deadlock_test.lua:9
-- Every coroutine waits on something that can never happen: the actor fails with "deadlock".
local a, b = channel.new(), channel.new()
coroutine.spawn(function() a:receive() end)
coroutine.spawn(function() b:send(1) end) -- will be taken below, then a's receiver is stuck
b:receive()
a:receive() -- nobody else can ever send on a
