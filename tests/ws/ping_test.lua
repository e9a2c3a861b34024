-- args: {py} {raw}
-- timeout: 120
-- Pings: client:ping() sends a masked ping with its payload (at most 125 bytes); the server's
-- pings are answered automatically and pongs are never delivered as messages; ping_interval
-- keeps an idle connection alive, and a missing pong within ping_timeout closes with 1011.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PY, RAW = ...

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

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function report(id)
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id))
  local m, ok = recv(c:channel(), "15s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data).connections[1]
end

local function frames_of(conn, op)
  local out = {}
  for _, f in ipairs(conn.frames) do if f.op == op then out[#out + 1] = f end end
  return out
end

test("ping() sends its payload; the pong is not delivered as a message", function()
  local id = uid("ping")
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?id=" .. id))
  assert(c:ping() == true)
  assert(c:ping("abc") == true)
  assert(c:ping(string.rep("x", 125)) == true)
  assert(c:send("after the pings"))
  local m, ok = recv(c:channel())
  assert(ok and m.type == "text" and m.data == "after the pings", "the first message must be the echo, got " .. tostring(m and m.type))
  c:close()
  local pings = frames_of(report(id), 9)
  assert(#pings == 3, #pings .. " pings recorded")
  assert(pings[1].text == "" and pings[2].text == "abc" and #pings[3].text == 125, "ping payloads wrong")
  for _, p in ipairs(pings) do assert(p.masked and p.fin, "a ping was unmasked or fragmented") end
end)

test("a ping payload over 125 bytes is INVALID", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local ok, err = c:ping(string.rep("x", 126))
  assert(ok == nil and err and errors.is(err, errors.INVALID), "expected INVALID, got " .. tostring(err))
  assert(c:send("still open"))
  assert(recv(c:channel()).data == "still open")
  c:close()
end)

test("the server's pings are answered automatically", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/ping?n=3"))
  local m, ok = recv(c:channel(), "20s")
  assert(ok and m.data == "pongs:3", "server says " .. tostring(m and m.data))
  c:close()
end)

test("ping_interval pings an idle connection", function()
  local id = uid("keepalive")
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?id=" .. id, { ping_interval = 100 }))
  time.sleep("650ms")
  local r = channel.select({ c:channel():case_receive() }, true)
  assert(r.default, "the idle connection must stay open and deliver nothing")
  c:close()
  local pings = frames_of(report(id), 9)
  assert(#pings >= 3 and #pings <= 8, #pings .. " pings in 650 ms with ping_interval 100 ms")
end)

test("no pong within ping_timeout closes with 1011", function()
  local id = uid("no-pong")
  local t0 = time.now()
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?nopong=1&id=" .. id,
    { ping_interval = "100ms", ping_timeout = "200ms" }))
  local m, ok = recv(c:channel(), "5s")
  local ms = time.now():sub(t0):milliseconds()
  assert(ok == false, "no message expected, got " .. tostring(m and m.data))
  assert(ms >= 250 and ms <= 2500, "closed after " .. ms .. " ms; expected about 300")
  assert(c:close_status() == 1011, "close_status " .. tostring(c:close_status()))
  local conn = report(id)
  assert(conn.close and conn.close.code == 1011, "the client's close frame: " .. json.encode(conn.close or {}))
end)

assert(failures == 0, failures .. " of " .. count .. " ping tests failed")
print(count .. " ping tests passed")
