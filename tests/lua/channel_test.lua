-- Channels and select: every rule of SPEC.md "channel".
local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("unbuffered send blocks until received", function()
  local ch = channel.new()
  local log = {}
  coroutine.spawn(function()
    log[#log + 1] = "send"
    ch:send(42)
    log[#log + 1] = "sent"
  end)
  local v, ok = ch:receive()
  assert(v == 42 and ok == true)
  log[#log + 1] = "received"
  assert(log[1] == "send")
end)

test("buffered channel keeps order and does not block until full", function()
  local ch = channel.new(3)
  ch:send(1); ch:send(2); ch:send(3)
  assert(#ch == 3)
  for i = 1, 3 do local v, ok = ch:receive(); assert(v == i and ok) end
end)

test("full buffer blocks the sender until a receive", function()
  local ch = channel.new(1)
  local done = false
  ch:send("a")
  coroutine.spawn(function() ch:send("b"); done = true end)
  coroutine.yield()
  assert(not done)
  assert(ch:receive() == "a")
  assert(ch:receive() == "b")
end)

test("values pass by reference inside the actor", function()
  local ch = channel.new(1)
  local t = {}
  ch:send(t)
  assert(ch:receive() == t)
end)

test("nil and false are values", function()
  local ch = channel.new(2)
  ch:send(false); ch:send(nil)
  local v, ok = ch:receive(); assert(v == false and ok == true)
  v, ok = ch:receive(); assert(v == nil and ok == true)
end)

test("close drains buffered values then reports closed", function()
  local ch = channel.new(2)
  ch:send(1); ch:send(2); ch:close()
  assert(select(2, ch:receive()) == true)
  assert(select(2, ch:receive()) == true)
  local v, ok = ch:receive()
  assert(v == nil and ok == false)
  v, ok = ch:receive()
  assert(v == nil and ok == false)
end)

test("close wakes blocked receivers", function()
  local ch = channel.new()
  local got = {}
  for i = 1, 3 do
    coroutine.spawn(function() local v, ok = ch:receive(); got[#got + 1] = ok end)
  end
  coroutine.yield()
  ch:close()
  coroutine.yield()
  assert(#got == 3 and got[1] == false and got[3] == false)
end)

test("close raises in blocked senders", function()
  local ch = channel.new()
  local err
  coroutine.spawn(function()
    local ok, e = pcall(ch.send, ch, 1)
    err = e
    assert(not ok)
  end)
  coroutine.yield()
  ch:close()
  coroutine.yield()
  assert(err and tostring(err):find("closed"), tostring(err))
end)

test("send on a closed channel raises; closing twice is a no-op", function()
  local ch = channel.new(1)
  ch:close()
  ch:close()
  local ok, err = pcall(ch.send, ch, 1)
  assert(not ok and tostring(err):find("closed"))
end)

test("select takes the first ready case in array order", function()
  local a, b = channel.new(1), channel.new(1)
  a:send("a"); b:send("b")
  local r = channel.select { b:case_receive(), a:case_receive() }
  assert(r.channel == b and r.value == "b" and r.ok == true)
  r = channel.select { a:case_receive(), b:case_receive() }
  assert(r.channel == a and r.value == "a")
end)

test("select default (table field and second argument)", function()
  local a = channel.new()
  local r = channel.select { a:case_receive(), default = true }
  assert(r.default == true and r.ok == true)
  r = channel.select({ a:case_receive() }, true)
  assert(r.default == true)
end)

test("select blocks until a case is ready", function()
  local a, b = channel.new(), channel.new()
  coroutine.spawn(function() b:send("late") end)
  local r = channel.select { a:case_receive(), b:case_receive() }
  assert(r.channel == b and r.value == "late" and r.ok)
end)

test("select send case", function()
  local a = channel.new(1)
  local r = channel.select { a:case_send("x") }
  assert(r.channel == a and r.ok == true)
  assert(a:receive() == "x")
  local b = channel.new()
  coroutine.spawn(function() assert(b:receive() == "y") end)
  r = channel.select { b:case_send("y") }
  assert(r.channel == b and r.ok)
end)

test("select on a closed channel returns ok=false", function()
  local a = channel.new()
  a:close()
  local r = channel.select { a:case_receive() }
  assert(r.channel == a and r.ok == false and r.value == nil)
end)

test("blocked select is woken by close", function()
  local a, b = channel.new(), channel.new()
  local res
  coroutine.spawn(function() res = channel.select { a:case_receive(), b:case_receive() } end)
  coroutine.yield()
  b:close()
  coroutine.yield()
  assert(res and res.channel == b and res.ok == false)
end)

test("a select in a loop leaves no stale waiters behind", function()
  local hits, never = channel.new(), channel.new()
  coroutine.spawn(function() for i = 1, 1000 do hits:send(i) end hits:close() end)
  local n = 0
  while true do
    local r = channel.select { never:case_receive(), hits:case_receive() }
    if not r.ok then break end
    n = n + 1
  end
  assert(n == 1000, n)
  -- a value sent now must reach a plain receive, not a dead select waiter
  coroutine.spawn(function() never:send("fresh") end)
  assert(never:receive() == "fresh")
end)

test("blocked sender with a select send case and a close", function()
  local a = channel.new()
  local ok, err
  coroutine.spawn(function() ok, err = pcall(channel.select, { a:case_send(1) }) end)
  coroutine.yield()
  a:close()
  coroutine.yield()
  assert(ok == false and tostring(err):find("closed"))
end)

test("many producers and consumers", function()
  local ch = channel.new(4)
  local done = channel.new()
  local sum = 0
  for p = 1, 10 do
    coroutine.spawn(function() for i = 1, 100 do ch:send(i) end done:send(true) end)
  end
  coroutine.spawn(function() for _ = 1, 10 do done:receive() end ch:close() end)
  while true do
    local v, ok = ch:receive()
    if not ok then break end
    sum = sum + v
  end
  assert(sum == 10 * 5050, sum)
end)

test("bad arguments raise errors naming the function", function()
  local ok, err = pcall(channel.new, -1)
  assert(not ok and tostring(err):find("capacity"))
  ok, err = pcall(channel.new, "x")
  assert(not ok)
  ok, err = pcall(channel.select, { 42 })
  assert(not ok and tostring(err):find("case 1"))
  ok, err = pcall(channel.select, "nope")
  assert(not ok)
  ok, err = pcall(channel.select, {})
  assert(not ok and tostring(err):find("no cases"))
  local ch = channel.new()
  ok, err = pcall(ch.send, ch)
  assert(not ok)
end)

test("receive case objects are reused", function()
  local a = channel.new()
  assert(a:case_receive() == a:case_receive())
end)

test("channels work inside a user coroutine (wrap)", function()
  local ch = channel.new()
  coroutine.spawn(function() for i = 1, 3 do ch:send(i) end end)
  local gen = coroutine.wrap(function()
    for _ = 1, 3 do coroutine.yield((ch:receive())) end
  end)
  assert(gen() == 1 and gen() == 2 and gen() == 3)
end)

assert(failures == 0, failures .. " of " .. count .. " channel tests failed")
print(count .. " channel tests passed")
