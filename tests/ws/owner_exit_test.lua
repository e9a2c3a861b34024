-- args: {raw}
-- timeout: 120
-- When the actor that owns a connection ends — by returning, by failing, or terminated by
-- another actor — the runtime closes its connections with 1001 (going away): the server
-- records the close frame (tests/ws/procs/ws_owner.lua is the owner).
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local RAW = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "10s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function report(id)
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id))
  local m, ok = recv(c:channel(), "15s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data).connections[1]
end

local function owner_ends(mode)
  local id = uid("owner-" .. mode)
  local events = process.events()
  local child = assert(process.spawn_monitored("file://procs/ws_owner.lua", nil, process.pid(), RAW, id, mode))
  local msg = recv(process.inbox())
  assert(msg:topic() == "ready" and msg:payload():data() == id, "the owner did not get ready")
  if mode == "block" then assert(process.terminate(child)) end
  local ev = recv(events)
  assert(ev.kind == process.event.EXIT and ev.from == child, "expected the owner's EXIT event")
  if mode == "return" then
    assert(ev.result and ev.result.error == nil, "the owner should have ended normally")
  else
    assert(ev.result and ev.result.error ~= nil, "the owner should have ended with an error")
  end
  local conn = report(id)
  assert(conn, "the server saw no connection")
  assert(conn.close, "no close frame from the runtime (connection ended by " .. tostring(conn["end"]) .. ")")
  assert(conn.close.code == 1001, "close code " .. tostring(conn.close.code) .. ", expected 1001")
  for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
end

test("owner returns normally: 1001", function() owner_ends("return") end)
test("owner fails with an error: 1001", function() owner_ends("error") end)
test("owner is terminated: 1001", function() owner_ends("block") end)

assert(failures == 0, failures .. " of " .. count .. " owner-exit tests failed")
print(count .. " owner-exit tests passed")
