-- args: {py}
-- timeout: 120
-- read_limit: a message of exactly read_limit bytes is delivered, one byte more closes the
-- connection with 1009 (after the messages before it), also when the oversized message came
-- compressed and small on the wire. 0 means the 16 MiB default.
local websocket = require("websocket")
local time = require("time")
local PY = ...

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
  local r = channel.select { ch:case_receive(), time.after(timeout or "10s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local echo = "ws://" .. PY .. "/echo"

test("exactly read_limit bytes pass, one more closes with 1009", function()
  local c = connect(echo, { read_limit = 1024 })
  local ch = c:channel()
  assert(c:send(string.rep("a", 1024)))
  local m, ok = recv(ch)
  assert(ok and #m.data == 1024, "the 1024-byte message must arrive")
  assert(c:send(string.rep("b", 1025)))
  m, ok = recv(ch)
  assert(ok == false, "a 1025-byte message must not be delivered (got " .. (m and #m.data or 0) .. " bytes)")
  local code = c:close_status()
  assert(code == 1009, "close_status " .. tostring(code) .. ", expected 1009")
end)

test("the limit applies to binary messages too, and earlier messages still arrive", function()
  local c = connect(echo, { read_limit = 100 })
  local ch = c:channel()
  assert(c:send("small one", websocket.BINARY))
  assert(c:send(string.rep("\0", 101), websocket.BINARY))
  local m, ok = recv(ch)
  assert(ok and m.data == "small one")
  m, ok = recv(ch)
  assert(ok == false, "the oversized message must not be delivered")
  assert(c:close_status() == 1009, "close_status " .. tostring(c:close_status()))
end)

test("the limit counts decompressed bytes, not bytes on the wire", function()
  -- the server compresses 64 KiB of one letter into a few hundred bytes
  local c = connect("ws://" .. PY .. "/extensions", { read_limit = 4096, compression = websocket.COMPRESSION.NO_CONTEXT,
                                                      compression_threshold = 0 })
  local ch = c:channel()
  local m0, ok0 = recv(ch)
  assert(ok0 and m0.data:find("permessage-deflate", 1, true), "compression was not negotiated: " .. tostring(m0 and m0.data))
  assert(c:send(string.rep("c", 4096)))
  local m, ok = recv(ch)
  assert(ok and #m.data == 4096, "a 4096-byte compressed message must arrive")
  assert(c:send(string.rep("z", 65536)))
  m, ok = recv(ch)
  assert(ok == false, "a 64 KiB message that was small compressed must not be delivered")
  assert(c:close_status() == 1009, "close_status " .. tostring(c:close_status()))
end)

test("4 MiB limit: 4 MiB passes, 4 MiB + 1 closes with 1009", function()
  local c = connect(echo, { read_limit = 4 * 1024 * 1024 })
  local ch = c:channel()
  assert(c:send(string.rep("x", 4 * 1024 * 1024), websocket.BINARY))
  local m, ok = recv(ch, "30s")
  assert(ok and #m.data == 4 * 1024 * 1024)
  m = nil
  assert(c:send(string.rep("y", 4 * 1024 * 1024 + 1), websocket.BINARY))
  m, ok = recv(ch, "30s")
  assert(ok == false, "4 MiB + 1 must not be delivered")
  assert(c:close_status() == 1009, "close_status " .. tostring(c:close_status()))
end)

test("read_limit = 0 means the 16 MiB default: 5 MiB passes", function()
  local c = connect(echo, { read_limit = 0 })
  assert(c:send(string.rep("d", 5 * 1024 * 1024), websocket.BINARY))
  local m, ok = recv(c:channel(), "30s")
  assert(ok and #m.data == 5 * 1024 * 1024)
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " read_limit tests failed")
print(count .. " read_limit tests passed")
