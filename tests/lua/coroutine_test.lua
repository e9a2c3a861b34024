-- coroutine.spawn, user coroutines next to scheduled ones, and preemption of busy loops.
local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("spawn passes arguments and returns at once", function()
  local ch = channel.new(1)
  local r = coroutine.spawn(function(a, b) ch:send(a + b) end, 2, 3)
  assert(r == nil)
  assert(ch:receive() == 5)
end)

test("generators with coroutine.wrap and resume still work", function()
  local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
  assert(gen() == 1 and gen() == 2 and gen() == 3)
  local co = coroutine.create(function(x) local y = coroutine.yield(x * 2); return y + 1 end)
  local ok, v = coroutine.resume(co, 5); assert(ok and v == 10)
  ok, v = coroutine.resume(co, 7); assert(ok and v == 8)
  assert(coroutine.status(co) == "dead")
  ok, v = coroutine.resume(co)
  assert(not ok and v:find("dead"))
end)

test("errors inside a user coroutine come back from resume", function()
  local co = coroutine.create(function() error("inner") end)
  local ok, err = coroutine.resume(co)
  assert(not ok and err:find("inner"))
  local w = coroutine.wrap(function() error("wrapped") end)
  local ok2, err2 = pcall(w)
  assert(not ok2 and tostring(err2):find("wrapped"))
end)

test("a scheduled coroutine cannot be resumed by hand", function()
  local ch = channel.new()
  local co
  coroutine.spawn(function() co = coroutine.running(); ch:receive() end)
  coroutine.yield()
  local ok, err = pcall(coroutine.resume, co)
  assert(not ok and tostring(err):find("schedules"), tostring(err))
  ch:send(1)
end)

test("time.sleep inside a user coroutine blocks the whole task only", function()
  local time = require("time")
  local other = 0
  coroutine.spawn(function() for _ = 1, 5 do other = other + 1; coroutine.yield() end end)
  local gen = coroutine.wrap(function() time.sleep("5ms"); coroutine.yield("slept") end)
  assert(gen() == "slept")
  assert(other == 5, other)
end)

test("a busy loop is preempted so other coroutines run", function()
  local flag = false
  coroutine.spawn(function() flag = true end)
  local spins = 0
  while not flag do spins = spins + 1 end -- no yield: only preemption can let the other run
  assert(flag)
end)

test("a busy loop inside a user coroutine is preempted too", function()
  local flag = false
  coroutine.spawn(function() flag = true end)
  local co = coroutine.wrap(function() while not flag do end return "done" end)
  assert(co() == "done")
end)

test("a busy loop inside pcall is preempted", function()
  local flag = false
  coroutine.spawn(function() flag = true end)
  assert(pcall(function() while not flag do end end))
end)

test("blocking inside table.sort's comparator is refused clearly", function()
  local ch = channel.new()
  local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b) ch:receive(); return a < b end)
  assert(not ok and tostring(err):find("would block"), tostring(err))
end)

test("coroutines left when main returns are ended", function()
  -- checked by the process exiting at all: this one would block forever
  coroutine.spawn(function() channel.new():receive() end)
end)

assert(failures == 0, failures .. " of " .. count .. " coroutine tests failed")
print(count .. " coroutine tests passed")
