-- args: {raw}
-- timeout: 120
-- Keepalive with reconnect: a peer that goes silent (stops answering pings, TCP still open) is
-- noticed by ping_interval / ping_timeout and replaced by a new connection; so is a peer that
-- resets or closes the TCP connection. No Lua code is involved beyond reading the channel.
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
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function report(id, n)
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. n .. "&wait=40000"))
  local m, ok = recv(c:channel(), "45s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data)
end

local OPTS = {
  ping_interval = "100ms", ping_timeout = "300ms",
  reconnect = { initial_delay = 50, max_delay = 200, jitter = 0, notify = true },
}

-- Reads the channel until "hello <n>", returning the notices seen on the way.
local function until_hello(ch, n, timeout)
  local notices = {}
  while true do
    local m = recv(ch, timeout or "10s")
    if m.type ~= "text" then notices[#notices + 1] = m
    elseif m.data == "hello " .. n then return notices end
  end
end

test("a silent peer (no pongs, TCP open) is detected by the keepalive and replaced", function()
  local id = uid("mute")
  local t0 = time.now()
  local c = assert(websocket.connect("ws://" .. RAW .. "/session?id=" .. id .. "&plan=mute,ok&ms=300", OPTS))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  local notices = until_hello(ch, 2)
  local ms = time.now():sub(t0):milliseconds()
  local d = notices[1]
  assert(d and d.type == "disconnected" and d.code == 1011 and d.message:match("ping timeout"),
    "the drop: " .. tostring(d and d.message))
  assert(notices[#notices].type == "reconnected")
  -- answering for 300 ms, then silent: the next ping goes unanswered for 300 ms
  assert(ms >= 500 and ms < 3000, "replaced after " .. ms .. " ms")
  assert(c:send("still here"))
  assert(recv(ch).data == "still here")
  c:close()
  local r = report(id, 2)
  local first = r.connections[1]
  assert(first.close and first.close.code == 1011 and first.close.reason == "ping timeout",
    "the silent peer got the client's close frame: " .. json.encode(first.close or {}))
  local pings = 0
  for _, f in ipairs(first.frames) do if f.op == 9 then pings = pings + 1 end end
  assert(pings >= 3, pings .. " pings to the first peer")
end)

test("a connection reset by the peer is replaced", function()
  local id = uid("rst")
  local c = assert(websocket.connect("ws://" .. RAW .. "/session?id=" .. id .. "&plan=rst,ok&ms=250", OPTS))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  local notices = until_hello(ch, 2)
  assert(notices[1].type == "disconnected" and notices[1].code == 1006, "the drop: " .. tostring(notices[1].message))
  assert(notices[1].message:lower():match("reset"), "a reset is named: " .. notices[1].message)
  c:close()
end)

test("a closed TCP connection is replaced, over and over", function()
  local id = uid("eof")
  local c = assert(websocket.connect("ws://" .. RAW .. "/session?id=" .. id .. "&plan=eof,eof,eof,ok&ms=100", OPTS))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  until_hello(ch, 4)
  assert(c:stats().reconnects == 3)
  c:close()
end)

test("keepalive pings keep a healthy connection: nothing is replaced", function()
  local id = uid("healthy")
  local c = assert(websocket.connect("ws://" .. RAW .. "/session?id=" .. id .. "&plan=ok", OPTS))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  time.sleep("1s")
  local r = channel.select({ ch:case_receive() }, true)
  assert(r.default, "no notice, no message")
  local s = c:stats()
  assert(s.reconnects == 0 and s.pings_sent >= 5 and s.last_rtt_ms, "stats " .. json.encode(s))
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " keepalive tests failed")
print(count .. " keepalive tests passed")
