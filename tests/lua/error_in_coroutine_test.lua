-- expect-exit: 1
-- expect-stderr: error_in_coroutine_test.lua:6: failed in a spawned coroutine
-- An uncaught error in any coroutine fails the actor.
local time = require("time")
coroutine.spawn(function()
  error("failed in a spawned coroutine")
end)
time.sleep("1s")
error("not reached")
