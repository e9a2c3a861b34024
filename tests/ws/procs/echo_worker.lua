-- A child actor for many_actors_test.lua: opens `n` connections to the echo URL at once (one
-- coroutine each), echoes `rounds` messages on each, closes them, and reports to the parent
-- "done" with the number of echoes that came back right.
local websocket = require("websocket")
local parent, url, me, n, rounds = ...
n, rounds = tonumber(n), tonumber(rounds)

local results = channel.new(n)
for k = 1, n do
  coroutine.spawn(function()
    local good = 0
    local c, err = websocket.connect(url)
    if not c then results:send("actor " .. me .. " connection " .. k .. ": " .. tostring(err)) return end
    local ch = c:channel()
    for i = 1, rounds do
      local text = me .. "/" .. k .. "/" .. i
      assert(c:send(text))
      local m, ok = ch:receive()
      if ok and m.data == text then good = good + 1 end
    end
    c:close()
    results:send(good)
  end)
end
local total = 0
for _ = 1, n do
  local r = results:receive()
  if type(r) ~= "number" then error(r) end
  total = total + r
end
process.send(parent, "done", me, total)
