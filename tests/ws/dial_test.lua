-- args: {py} {refused}
-- timeout: 120
-- Dialling: a refused port fails at once (INTERNAL, stage "tcp", retryable); a server that
-- accepts TCP but never answers the upgrade fails within dial_timeout (TIMEOUT, retryable);
-- names resolve; a pending dial blocks only its own coroutine.
local websocket = require("websocket")
local time = require("time")
local PY, REFUSED = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function ms_since(t0) return time.now():sub(t0):milliseconds() end

local function expect_err(kind, c, err, what)
  assert(c == nil, what .. ": expected nil, err; got a client")
  assert(err ~= nil, what .. ": no error object")
  assert(errors.is(err, kind), what .. ": expected kind " .. kind .. ", got " .. tostring(err:kind()) .. ": " .. tostring(err))
end

test("refused port: INTERNAL, stage tcp, retryable, fast", function()
  local t0 = time.now()
  local c, err = websocket.connect("ws://" .. REFUSED .. "/echo")
  local ms = ms_since(t0)
  expect_err(errors.INTERNAL, c, err, "refused")
  assert(err:retryable() == true, "a refused connection is retryable")
  local d = err:details()
  assert(type(d) == "table" and d.stage == "tcp", "details().stage = " .. tostring(d and d.stage))
  assert(ms < 2000, "refusal took " .. ms .. " ms")
  assert(#err:message() > 0)
end)

test("slow upgrade: TIMEOUT within dial_timeout (number = milliseconds)", function()
  local t0 = time.now()
  local c, err = websocket.connect("ws://" .. PY .. "/slow-upgrade", { dial_timeout = 300 })
  local ms = ms_since(t0)
  expect_err(errors.TIMEOUT, c, err, "slow upgrade")
  assert(err:retryable() == true, "a dial timeout is retryable")
  assert(ms >= 250 and ms <= 2000, "gave up after " .. ms .. " ms, dial_timeout was 300 ms")
end)

test("slow upgrade: TIMEOUT within dial_timeout (Go duration string)", function()
  local t0 = time.now()
  local c, err = websocket.connect("ws://" .. PY .. "/slow-upgrade", { dial_timeout = "0.5s" })
  local ms = ms_since(t0)
  expect_err(errors.TIMEOUT, c, err, "slow upgrade")
  assert(ms >= 450 and ms <= 2500, "gave up after " .. ms .. " ms, dial_timeout was 500 ms")
end)

test("a pending dial blocks only its own coroutine", function()
  local done = channel.new(2)
  coroutine.spawn(function()
    local c, err = websocket.connect("ws://" .. PY .. "/slow-upgrade", { dial_timeout = "1s" })
    done:send({ who = "slow", ok = c ~= nil, err = err })
  end)
  coroutine.spawn(function()
    local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
    assert(c:send("meanwhile"))
    local m = c:channel():receive()
    c:close()
    done:send({ who = "fast", ok = m and m.data == "meanwhile" })
  end)
  local first = done:receive()
  assert(first.who == "fast" and first.ok, "the echo must finish while the other dial is pending")
  local second = done:receive()
  assert(second.who == "slow" and not second.ok and errors.is(second.err, errors.TIMEOUT))
end)

test("a host name resolves: localhost", function()
  local port = PY:match(":(%d+)$")
  local c, err = websocket.connect("ws://localhost:" .. port .. "/echo")
  assert(c, "connect via localhost: " .. tostring(err))
  assert(c:send("by name"))
  assert(c:channel():receive().data == "by name")
  c:close()
end)

test("an unresolvable name fails within dial_timeout", function()
  local t0 = time.now()
  local c, err = websocket.connect("ws://no-such-host.invalid/", { dial_timeout = "3s" })
  local ms = ms_since(t0)
  assert(c == nil and err, "connect to .invalid must fail")
  assert(errors.is(err, errors.INTERNAL) or errors.is(err, errors.TIMEOUT), "kind " .. tostring(err:kind()))
  if errors.is(err, errors.INTERNAL) then
    assert(err:details().stage == "dns", "stage " .. tostring(err:details().stage))
  end
  assert(ms <= 4000, "took " .. ms .. " ms")
end)

assert(failures == 0, failures .. " of " .. count .. " dial tests failed")
print(count .. " dial tests passed")
