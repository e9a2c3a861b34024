-- args: {raw}
-- timeout: 120
-- read_timeout is an idle timeout: no frame for that long fails the connection, while regular
-- traffic keeps it open; write_timeout fails a connection whose peer stops reading, and the
-- blocked send returns nil, err instead of hanging.
local websocket = require("websocket")
local time = require("time")
local RAW = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local function ms_since(t0) return time.now():sub(t0):milliseconds() end

test("read_timeout: a silent server fails the connection after about read_timeout", function()
  local c = assert(websocket.connect("ws://" .. RAW .. "/record", { read_timeout = 300 }))
  local t0 = time.now()
  local m, ok = recv(c:channel())
  local ms = ms_since(t0)
  assert(ok == false, "no message expected, got " .. tostring(m and m.data))
  assert(ms >= 250 and ms <= 2000, "closed after " .. ms .. " ms, read_timeout was 300 ms")
  local code = c:close_status()
  assert(math.type(code) == "integer", "close_status " .. tostring(code))
  local sent, err = c:send("after the timeout")
  assert(sent == nil and err, "send after a read timeout must fail")
end)

test("read_timeout: frames every 100 ms keep a 300 ms idle timeout from firing", function()
  local c = assert(websocket.connect("ws://" .. RAW .. "/tick?ms=100&n=8", { read_timeout = "300ms" }))
  local ch = c:channel()
  for i = 1, 8 do
    local m, ok = recv(ch)
    assert(ok and m.data == "tick " .. i, "tick " .. i .. ": " .. tostring(m and m.data))
  end
  local t0 = time.now()
  local _, ok = recv(ch)
  local ms = ms_since(t0)
  assert(ok == false and ms <= 2000, "after the ticks stop the idle timeout must fire (" .. ms .. " ms)")
end)

test("write_timeout: a peer that stops reading fails the blocked send", function()
  local c = assert(websocket.connect("ws://" .. RAW .. "/noread?secs=30", { write_timeout = 300 }))
  local chunk = string.rep("w", 64 * 1024)
  local t0 = time.now()
  local sent, failed_with = 0, nil
  for _ = 1, 4096 do -- 256 MiB at most: far more than any socket buffer
    local ok, err = c:send(chunk, websocket.BINARY)
    if not ok then failed_with = err break end
    sent = sent + 1
  end
  local ms = ms_since(t0)
  assert(failed_with, "every send succeeded (" .. sent .. " x 64 KiB) to a peer that never reads")
  assert(ms <= 10000, "the failing send came after " .. ms .. " ms")
  local _, ok = recv(c:channel())
  assert(ok == false, "the channel must close after a write timeout")
end)

assert(failures == 0, failures .. " of " .. count .. " timeout tests failed")
print(count .. " timeout tests passed")
