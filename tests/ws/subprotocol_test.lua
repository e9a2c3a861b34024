-- args: {py}
-- Subprotocols: the offer goes out in order, protocol() returns the one the server picked
-- (tests/ws/peers/py_server.py /subprotocol picks the first offered it knows), nil when none.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PY = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch and r.ok, "no message")
  return r.value
end

local function negotiate(protocols)
  local c, err = websocket.connect("ws://" .. PY .. "/subprotocol", { protocols = protocols })
  assert(c, tostring(err))
  local said = json.decode(recv(c:channel()).data)
  return c, c:protocol(), said.protocol
end

test("the server picks from the offer; protocol() returns it", function()
  local c, mine, theirs = negotiate { "x-unknown", "chat.v2", "chat.v1" }
  assert(mine == "chat.v2" and theirs == "chat.v2", tostring(mine) .. " / " .. tostring(theirs))
  c:close()
  c, mine, theirs = negotiate { "graphql-ws" }
  assert(mine == "graphql-ws" and theirs == "graphql-ws", tostring(mine))
  c:close()
end)

test("nothing acceptable offered: protocol() is nil", function()
  local c, mine, theirs = negotiate { "x-unknown" }
  assert(mine == nil and theirs == nil, tostring(mine) .. " / " .. tostring(theirs))
  c:close()
end)

test("no offer: protocol() is nil", function()
  local c, mine, theirs = negotiate(nil)
  assert(mine == nil and theirs == nil, tostring(mine))
  c:close()
end)

test("the offer is sent in order", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/headers", { protocols = { "b.proto", "a.proto", "chat.v1" } }))
  local r = json.decode(recv(c:channel()).data)
  local offered = {}
  for _, kv in ipairs(r.headers) do
    if kv[1]:lower() == "sec-websocket-protocol" then
      for p in kv[2]:gmatch("[^,%s]+") do offered[#offered + 1] = p end
    end
  end
  assert(table.concat(offered, ",") == "b.proto,a.proto,chat.v1", "offered: " .. table.concat(offered, ","))
  assert(c:protocol() == nil, "/headers selects no subprotocol")
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " subprotocol tests failed")
print(count .. " subprotocol tests passed")
