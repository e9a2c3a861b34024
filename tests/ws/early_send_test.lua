-- args: {py} {raw}
-- Nothing is lost before channel() is first called: messages sent right after connect are
-- echoed and kept, even beyond channel_capacity, and a frame that arrives in the same TCP
-- segment as the 101 response is delivered.
local websocket = require("websocket")
local time = require("time")
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
  assert(r.channel == ch, "timed out waiting for a message")
  assert(r.ok, "channel closed while waiting for a message")
  return r.value
end

test("messages echoed before channel() is called are kept, in order", function()
  local c = connect("ws://" .. PY .. "/echo")
  local words = { "one", "two", "three", "four", "five" }
  for _, w in ipairs(words) do assert(c:send(w)) end
  time.sleep("300ms") -- the echoes arrive while nobody has asked for the channel
  local ch = c:channel()
  for _, w in ipairs(words) do
    local m = recv(ch)
    assert(m.type == "text" and m.data == w, "expected " .. w .. ", got " .. tostring(m.data))
  end
  c:close()
end)

test("more early messages than channel_capacity: back-pressure keeps the rest", function()
  local c = connect("ws://" .. PY .. "/echo", { channel_capacity = 4 })
  for i = 1, 50 do assert(c:send("early " .. i)) end
  time.sleep("300ms")
  local ch = c:channel()
  for i = 1, 50 do
    local m = recv(ch)
    assert(m.data == "early " .. i, "expected early " .. i .. ", got " .. tostring(m.data))
  end
  c:close()
end)

test("a message the server sends unasked before channel() is kept", function()
  local c = connect("ws://" .. PY .. "/headers")
  time.sleep("200ms")
  local m = recv(c:channel())
  assert(m.type == "text" and m.data:find('"headers"', 1, true), "headers report expected")
  c:close()
end)

test("a frame in the same segment as the 101 response is delivered", function()
  local c = connect("ws://" .. RAW .. "/early?text=hello%20early")
  local m = recv(c:channel())
  assert(m.type == "text" and m.data == "hello early", "got " .. tostring(m.data))
  assert(c:send("then echo"))
  m = recv(c:channel())
  assert(m.data == "then echo")
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " early-send tests failed")
print(count .. " early-send tests passed")
