-- args: {py}
-- The client's channel is an ordinary actor-local channel: channel.select multiplexes it with
-- time.after and process.inbox(), events come in the order they happen, a closed connection
-- shows up as ok == false, and a select with default does not wait.
local websocket = require("websocket")
local time = require("time")
local PY = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("timer, inbox and WebSocket events come in the order they happen", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/delay?ms=600&text=late%20news"))
  local ch, inbox = c:channel(), process.inbox()
  local timer = time.after("100ms")
  coroutine.spawn(function()
    time.sleep("300ms")
    process.send(process.pid(), "poke", "from inbox")
  end)
  local order = {}
  local deadline = time.after("5s")
  while #order < 3 do
    local r = channel.select { ch:case_receive(), inbox:case_receive(), timer:case_receive(), deadline:case_receive() }
    if r.channel == deadline then error("timed out; saw " .. table.concat(order, ", ")) end
    if r.channel == timer then
      order[#order + 1] = "timer"
      timer = channel.new() -- never ready again
    elseif r.channel == inbox then
      assert(r.ok and r.value:topic() == "poke" and r.value:payload():data() == "from inbox")
      order[#order + 1] = "inbox"
    else
      assert(r.channel == ch and r.ok and r.value.data == "late news", "unexpected WebSocket event")
      order[#order + 1] = "ws"
    end
  end
  assert(table.concat(order, ",") == "timer,inbox,ws", "order: " .. table.concat(order, ","))
  c:close()
end)

test("a keep-alive loop: ping on the heartbeat, process messages in between", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local ch = c:channel()
  local heartbeat = time.after("50ms")
  local pings, echoes, sent = 0, 0, 0
  local stop = time.after("1s")
  coroutine.spawn(function()
    for i = 1, 20 do
      assert(c:send("tick " .. i))
      sent = sent + 1
      time.sleep("30ms")
    end
  end)
  while true do
    local r = channel.select { ch:case_receive(), heartbeat:case_receive(), stop:case_receive() }
    if r.channel == stop then break end
    if r.channel == heartbeat then
      assert(c:ping() == true)
      pings = pings + 1
      heartbeat = time.after("50ms")
    else
      assert(r.ok, "connection closed")
      echoes = echoes + 1
      assert(r.value.data == "tick " .. echoes, "echo " .. echoes .. " is " .. r.value.data)
    end
  end
  assert(pings >= 10, pings .. " pings")
  assert(echoes == 20 and sent == 20, echoes .. " echoes of " .. sent)
  c:close()
end)

test("a closed connection selects with ok == false", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/close?code=4002&reason=done&before=1"))
  local ch = c:channel()
  local r = channel.select { ch:case_receive(), time.after("5s"):case_receive() }
  assert(r.channel == ch and r.ok and r.value.data == "m1")
  r = channel.select { ch:case_receive(), time.after("5s"):case_receive() }
  assert(r.channel == ch and r.ok == false and r.value == nil, "expected the closed channel")
  assert(c:close_status() == 4002)
end)

test("select with default does not wait on an idle connection", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local r = channel.select({ c:channel():case_receive() }, true)
  assert(r.default == true, "nothing should be ready")
  r = channel.select { c:channel():case_receive(), default = true }
  assert(r.default == true)
  assert(c:send("now"))
  time.sleep("200ms")
  r = channel.select({ c:channel():case_receive() }, true)
  assert(r.channel == c:channel() and r.value.data == "now")
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " select tests failed")
print(count .. " select tests passed")
