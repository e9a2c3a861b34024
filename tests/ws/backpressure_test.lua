-- args: {py} {node}
-- timeout: 300
-- Back-pressure: a slow consumer with channel_capacity = 4 receives 20,000 flooded messages
-- from each server, all of them, in order; the channel never holds more than its capacity.
local websocket = require("websocket")
local time = require("time")
local PY, NODE = ...

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

local N, SIZE, CAP = 20000, 100, 4

local function flood(label, addr)
  test(label .. ": 20,000 messages to a slow consumer, none lost, in order", function()
    local c = connect("ws://" .. addr .. "/flood?n=" .. N .. "&size=" .. SIZE, { channel_capacity = CAP })
    local ch = c:channel()
    time.sleep("300ms") -- let the server run ahead: only back-pressure can hold it now
    assert(#ch <= CAP, "the channel holds " .. #ch .. " messages, capacity is " .. CAP)
    for i = 1, N do
      local m, ok = recv(ch)
      assert(ok, "channel closed after " .. (i - 1) .. " messages")
      local seq = tonumber(m.data:sub(1, 10))
      assert(seq == i, "message " .. i .. " carries number " .. tostring(seq))
      assert(#m.data == SIZE and m.type == "text", "message " .. i .. " is " .. #m.data .. " bytes")
      if i % 2000 == 0 then
        time.sleep("50ms") -- slow again
        assert(#ch <= CAP, "the channel holds " .. #ch .. " messages, capacity is " .. CAP)
      end
    end
    local m, ok = recv(ch)
    assert(ok == false, "unexpected extra message " .. tostring(m and m.data))
    local code, reason = c:close_status()
    assert(code == 1000 and reason == "flood done", "close_status " .. tostring(code) .. " " .. tostring(reason))
  end)
end

flood("python websockets", PY)
flood("node ws", NODE)

test("capacity 1: every message still arrives", function()
  local c = connect("ws://" .. PY .. "/flood?n=2000&size=10", { channel_capacity = 1 })
  local ch = c:channel()
  for i = 1, 2000 do
    local m, ok = recv(ch)
    assert(ok and tonumber(m.data) == i, "message " .. i)
    if i % 500 == 0 then time.sleep("20ms") end
  end
  local _, ok = recv(ch)
  assert(ok == false)
end)

assert(failures == 0, failures .. " of " .. count .. " back-pressure tests failed")
print(count .. " back-pressure tests passed")
