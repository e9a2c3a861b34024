-- args: {py} {raw}
-- timeout: 120
-- Closing: the server's close code and reason reach close_status(), buffered messages are
-- delivered before the channel closes, a lost connection reads 1006 and an empty close frame
-- 1005; the client's own close sends its code and reason, is idempotent, and stops send/ping.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PY, RAW = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function connect(url, opts)
  local c, err = websocket.connect(url, opts)
  assert(c, "connect " .. url .. " failed: " .. tostring(err))
  return c
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

-- Every message until the channel closes (fails if it stays open past the timeout).
local function drain(ch, timeout)
  local got = {}
  while true do
    local m, ok = recv(ch, timeout)
    if not ok then return got end
    got[#got + 1] = m.data
  end
end

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

-- The raw server's record of the connections made with id (tests/ws/peers/raw_server.py).
local function report(id, n)
  local c = connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. (n or 1))
  local m, ok = recv(c:channel(), "10s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data)
end

local function ms_since(t0) return time.now():sub(t0):milliseconds() end

test("server close with code and reason: close_status() returns them", function()
  local c = connect("ws://" .. PY .. "/close?code=4001&reason=bye")
  local got = drain(c:channel())
  assert(#got == 0, "no messages expected")
  local code, reason = c:close_status()
  assert(code == 4001 and reason == "bye", "close_status: " .. tostring(code) .. " " .. tostring(reason))
end)

test("buffered messages are delivered in order before the channel closes", function()
  local c = connect("ws://" .. PY .. "/close?code=4000&reason=later&before=3")
  time.sleep("200ms") -- the close arrives before anyone reads
  local got = drain(c:channel())
  assert(#got == 3 and got[1] == "m1" and got[2] == "m2" and got[3] == "m3", "got " .. #got .. " messages")
  local code, reason = c:close_status()
  assert(code == 4000 and reason == "later", tostring(code) .. " " .. tostring(reason))
  -- a closed channel stays closed
  local m, ok = c:channel():receive()
  assert(m == nil and ok == false)
end)

test("every valid server close code is reported as sent", function()
  for _, code in ipairs { 1000, 1001, 1003, 1008, 1011, 1012, 1013, 1014, 3000, 4999 } do
    local c = connect("ws://" .. PY .. "/close?code=" .. code .. "&reason=r" .. code)
    drain(c:channel())
    local got, reason = c:close_status()
    assert(got == code and reason == "r" .. code, "sent " .. code .. ", close_status " .. tostring(got))
  end
end)

test("a UTF-8 close reason arrives intact", function()
  local c = connect("ws://" .. PY .. "/close?code=1000&reason=%C3%A0%20bient%C3%B4t%20%E2%82%AC")
  drain(c:channel())
  local code, reason = c:close_status()
  assert(code == 1000 and reason == "à bientôt €", tostring(reason))
end)

test("a close reason of the maximum 123 bytes arrives whole", function()
  local long = string.rep("r", 120) .. "end"
  local c = connect("ws://" .. PY .. "/close?code=4003&reason=" .. long)
  drain(c:channel())
  local code, reason = c:close_status()
  assert(code == 4003 and reason == long, "reason of " .. #tostring(reason) .. " bytes")
end)

test("a connection that drops without a close frame reads 1006", function()
  local c = connect("ws://" .. RAW .. "/drop")
  local got = drain(c:channel())
  assert(#got == 1 and got[1] == "last words", "the message before the drop must be delivered")
  local code = c:close_status()
  assert(code == 1006, "close_status " .. tostring(code))
end)

test("a close frame without a status code reads 1005", function()
  local c = connect("ws://" .. RAW .. "/close-empty")
  drain(c:channel())
  local code = c:close_status()
  assert(code == 1005, "close_status " .. tostring(code))
end)

test("client close sends its code and reason, masked; the channel then closes", function()
  local id = uid("close")
  local c = connect("ws://" .. RAW .. "/record?id=" .. id)
  assert(c:send("before close"))
  assert(recv(c:channel()).data == "before close")
  assert(c:close(4000, "Session ended") == true)
  local m, ok = recv(c:channel(), "1s")
  assert(m == nil and ok == false, "channel must be closed after close() returns")
  local r = report(id)
  local conn = r.connections[1]
  assert(conn.close, "the server got no close frame")
  assert(conn.close.code == 4000 and conn.close.reason == "Session ended",
    "server recorded " .. tostring(conn.close.code) .. " " .. tostring(conn.close.reason))
  assert(#conn.violations == 0, "client framing violations: " .. table.concat(conn.violations, "; "))
  for _, f in ipairs(conn.frames) do assert(f.masked, "client frame not masked") end
end)

test("close() without arguments sends 1000; a second close is a no-op returning true", function()
  local id = uid("close-default")
  local c = connect("ws://" .. RAW .. "/record?id=" .. id)
  assert(c:close() == true)
  assert(c:close() == true, "second close must return true")
  assert(c:close(4000, "again") == true, "third close must return true")
  local conn = report(id).connections[1]
  assert(conn.close and conn.close.code == 1000, "server recorded " .. json.encode(conn.close or {}))
  local closes = 0
  for _, f in ipairs(conn.frames) do if f.op == 8 then closes = closes + 1 end end
  assert(closes == 1, closes .. " close frames sent")
end)

test("send and ping after close fail with an error", function()
  local c = connect("ws://" .. PY .. "/echo")
  assert(c:close())
  local ok, err = c:send("too late")
  assert(ok == nil and err ~= nil, "send after close must return nil, err")
  ok, err = c:send("too late", websocket.BINARY)
  assert(ok == nil and err ~= nil)
  ok, err = c:ping()
  assert(ok == nil and err ~= nil, "ping after close must return nil, err")
end)

test("send after the server closed fails with an error", function()
  local c = connect("ws://" .. PY .. "/close?code=1000")
  drain(c:channel())
  local ok, err = c:send("too late")
  assert(ok == nil and err ~= nil, "send after the connection ended must return nil, err")
end)

test("sending while the server closes: send fails cleanly, the channel closes", function()
  local c = connect("ws://" .. PY .. "/close?code=4004&reason=closing")
  local failed
  for i = 1, 20000 do
    local ok, err = c:send("message " .. i)
    if not ok then failed = err break end
    if i % 100 == 0 then time.sleep("1ms") end
  end
  assert(failed, "20000 sends after the server closed all succeeded")
  drain(c:channel())
  assert(c:close_status() == 4004)
end)

test("messages already received are still delivered after close()", function()
  local c = connect("ws://" .. PY .. "/echo")
  for i = 1, 3 do assert(c:send("kept " .. i)) end
  time.sleep("300ms")
  assert(c:close())
  local got = drain(c:channel())
  assert(#got == 3 and got[1] == "kept 1" and got[3] == "kept 3", "got " .. #got .. " messages")
end)

test("close() waits at most about 5 s for a peer that never answers", function()
  local c = connect("ws://" .. RAW .. "/noread?secs=30")
  local t0 = time.now()
  assert(c:close() == true)
  local ms = ms_since(t0)
  assert(ms >= 4500 and ms <= 7000, "close took " .. ms .. " ms, expected about 5000")
  local m, ok = recv(c:channel(), "1s")
  assert(m == nil and ok == false)
end)

assert(failures == 0, failures .. " of " .. count .. " close tests failed")
print(count .. " close tests passed")
