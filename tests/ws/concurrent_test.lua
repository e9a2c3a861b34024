-- args: {py} {node}
-- timeout: 180
-- 200 connections open at the same time in one actor, each dialled from its own coroutine:
-- all connect, each echoes its own messages while the others are open, all close cleanly.
local websocket = require("websocket")
local time = require("time")
local PY, NODE = ...

local N = 200
local results = channel.new(N)
local all_open = channel.new()

for i = 1, N do
  coroutine.spawn(function()
    local ok, err = pcall(function()
      local addr = (i % 2 == 0) and PY or NODE
      local c, cerr = websocket.connect("ws://" .. addr .. "/echo")
      assert(c, "connection " .. i .. ": " .. tostring(cerr))
      local ch = c:channel()
      assert(c:send("hello from " .. i))
      local m, ok = ch:receive()
      assert(ok and m.data == "hello from " .. i, "connection " .. i .. " got " .. tostring(m and m.data))
      results:send({ i = i, stage = "open" })
      all_open:receive() -- stay open until every connection is
      assert(c:send(string.rep(tostring(i), 1000 // #tostring(i)), websocket.BINARY))
      m, ok = ch:receive()
      assert(ok and m.type == "binary" and m.data == string.rep(tostring(i), 1000 // #tostring(i)),
        "connection " .. i .. ": second echo wrong")
      assert(c:close())
      m, ok = ch:receive()
      assert(m == nil and ok == false, "connection " .. i .. ": channel open after close")
    end)
    results:send({ i = i, stage = ok and "done" or "failed", err = err })
  end)
end

local function collect(stage)
  local seen = 0
  while seen < N do
    local r = channel.select { results:case_receive(), time.after("60s"):case_receive() }
    assert(r.channel == results, "timed out: " .. seen .. " of " .. N .. " connections reached " .. stage)
    local v = r.value
    if v.stage == "failed" then error(tostring(v.err)) end
    assert(v.stage == stage, "connection " .. v.i .. " reached " .. v.stage .. " during " .. stage)
    seen = seen + 1
  end
end

collect("open")
print(N .. " connections open at once")
for _ = 1, N do all_open:send(true) end
collect("done")
print(N .. " connections echoed and closed")
