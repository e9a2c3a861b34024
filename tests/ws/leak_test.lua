-- args: {py} {raw} {refused}
-- measure: fd=2 rss_kb=8192
-- timeout: 300
-- 300 connect/echo/close cycles (plus refused dials, server-side closes and failed
-- handshakes) leak neither file descriptors nor memory: the driver reads /proc/<pid>/fd and
-- VmRSS at each "@@measure" line, after a warm-up, and compares the first and last readings.
local websocket = require("websocket")
local time = require("time")
local PY, RAW, REFUSED = ...

local function cycle(i)
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local ch = c:channel()
  assert(c:send("cycle " .. i))
  local m, ok = ch:receive()
  assert(ok and m.data == "cycle " .. i)
  assert(c:close())
  if i % 10 == 0 then
    -- the server closes
    local s = assert(websocket.connect("ws://" .. PY .. "/close?code=4000&before=1"))
    local sch = s:channel()
    assert(sch:receive())
    local _, sok = sch:receive()
    assert(sok == false)
    -- a refused dial and a failed handshake
    local r, err = websocket.connect("ws://" .. REFUSED .. "/")
    assert(r == nil and err)
    r, err = websocket.connect("ws://" .. RAW .. "/hs/status-404")
    assert(r == nil and err)
  end
end

local function measure(label)
  collectgarbage("collect")
  collectgarbage("collect")
  time.sleep("200ms")
  print("@@measure " .. label)
  time.sleep("700ms") -- the driver reads /proc now
end

for i = 1, 60 do cycle(i) end
measure("after 60 warm-up cycles")
for i = 1, 300 do cycle(i) end
measure("after 300 more cycles")
print("300 cycles done")
