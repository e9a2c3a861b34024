-- The time module: sleep, after, timer, ticker, Time and Duration values, Go durations.
local time = require("time")
local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("constants", function()
  assert(time.NANOSECOND == 1 and time.MICROSECOND == 1000 and time.MILLISECOND == 1000000)
  assert(time.SECOND == 1000000000 and time.MINUTE == 60 * time.SECOND and time.HOUR == 60 * time.MINUTE)
end)

test("sleep never returns early (number, string, Duration)", function()
  local t0 = time.now()
  assert(time.sleep(20 * time.MILLISECOND) == true)
  time.sleep("10ms")
  time.sleep(time.parse_duration("10ms"))
  local el = time.now():sub(t0)
  assert(el:milliseconds() >= 40, el:string())
end)

test("sleep of zero or less returns at once", function()
  assert(time.sleep(0) == true)
  assert(time.sleep(-5) == true)
end)

test("sleeping coroutines wake in deadline order", function()
  local order = {}
  local done = channel.new(3)
  for _, ms in ipairs { 30, 10, 20 } do
    coroutine.spawn(function() time.sleep(ms * time.MILLISECOND); order[#order + 1] = ms; done:send(true) end)
  end
  for _ = 1, 3 do done:receive() end
  assert(order[1] == 10 and order[2] == 20 and order[3] == 30, table.concat(order, ","))
end)

test("after delivers one Time, then the channel is closed", function()
  local before = time.now()
  local ch = time.after("15ms")
  local t, ok = ch:receive()
  assert(ok and t:after(before) or t:equal(before))
  assert(t:sub(before):milliseconds() >= 15)
  local v, ok2 = ch:receive()
  assert(v == nil and ok2 == false)
end)

test("after works as a select timeout", function()
  local never = channel.new()
  local timeout = time.after("10ms")
  local r = channel.select { never:case_receive(), timeout:case_receive() }
  assert(r.channel == timeout and r.ok)
end)

test("timer: channel, stop, reset", function()
  local tm = time.timer("10ms")
  local t, ok = tm:channel():receive()
  assert(ok and getmetatable(t) ~= nil)
  assert(tm:stop() == false) -- already fired
  tm = time.timer("1h")
  assert(tm:stop() == true)
  local r = channel.select { tm:channel():case_receive(), default = true }
  assert(r.default)
  assert(tm:reset("5ms") == false)
  local _, ok2 = tm:channel():receive()
  assert(ok2)
  tm = time.timer("1h")
  assert(tm:reset("5ms") == true)
  tm:channel():receive()
end)

test("ticker ticks until stopped; missed ticks are dropped", function()
  local tk = time.ticker("5ms")
  local ch = tk:channel()
  for _ = 1, 3 do local _, ok = ch:receive(); assert(ok) end
  time.sleep("40ms") -- several ticks missed: at most one is buffered
  ch:receive()
  local r = channel.select { ch:case_receive(), default = true }
  assert(r.default or r.ok)
  assert(tk:stop() == true)
  time.sleep("15ms")
  local drained = 0
  while not channel.select({ ch:case_receive() }, true).default do drained = drained + 1 end
  assert(drained <= 1, drained)
  local ok, err = time.ticker(0)
  assert(ok == nil and errors.is(err, errors.INVALID))
end)

test("now and unix", function()
  local t = time.unix(1700000000, 500)
  assert(t:unix() == 1700000000 and t:unix_nano() == 1700000000000000500)
  assert(t:format_rfc3339() == "2023-11-14T22:13:20Z", t:format_rfc3339())
  local n = time.now()
  assert(n:unix() > 1700000000)
  assert(t:before(n) and n:after(t) and not t:equal(n) and t:equal(time.unix(1700000000, 500)))
  assert(t < n and t == time.unix(1700000000, 500))
  local later = t:add(time.SECOND)
  assert(later:sub(t):seconds() == 1.0)
  assert(t:add("1m"):unix() == 1700000060)
end)

test("parse_duration: Go syntax", function()
  local d = time.parse_duration("1h2m3.5s")
  assert(d:nanoseconds() == 3723500000000, d:nanoseconds())
  assert(d:string() == "1h2m3.5s" and tostring(d) == "1h2m3.5s")
  assert(time.parse_duration("1.5ms"):microseconds() == 1500)
  assert(time.parse_duration("-2s"):seconds() == -2.0)
  assert(time.parse_duration("300us"):nanoseconds() == 300000)
  assert(time.parse_duration("300µs"):nanoseconds() == 300000)
  assert(time.parse_duration("0"):nanoseconds() == 0)
  assert(time.parse_duration("90m"):hours() == 1.5)
  assert(time.parse_duration("2m"):minutes() == 2.0)
end)

test("bad durations are nil, INVALID errors naming the problem", function()
  for _, s in ipairs { "", "abc", "3", "3x", "1.5.5s", "99999999999999999999h" } do
    local d, err = time.parse_duration(s)
    assert(d == nil and errors.is(err, errors.INVALID), s)
    assert(err:message():find("duration"), err:message())
  end
  local ok, err = time.sleep("soon")
  assert(ok == nil and errors.is(err, errors.INVALID) and err:message():find("soon"))
  local c, err2 = time.after("x")
  assert(c == nil and errors.is(err2, errors.INVALID))
end)

test("wrong argument types raise with the function name", function()
  local ok, err = pcall(time.sleep, {})
  assert(not ok and tostring(err):find("time.sleep"), tostring(err))
  ok, err = pcall(time.unix, "x")
  assert(not ok)
end)

test("duration arithmetic and comparison", function()
  local a, b = time.parse_duration("1s"), time.parse_duration("500ms")
  assert((a + b):milliseconds() == 1500 and (a - b):milliseconds() == 500)
  assert(b < a and b <= a and a == time.parse_duration("1000ms"))
  assert((-a):seconds() == -1.0)
end)

test("a timer dropped without stop does not keep the actor alive", function()
  local function drop() time.after("1h") end
  drop()
  collectgarbage()
  collectgarbage()
end)

assert(failures == 0, failures .. " of " .. count .. " time tests failed")
print(count .. " time tests passed")
