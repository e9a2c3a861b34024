-- args: {py} {raw} {node}
-- timeout: 120
-- Introspection: client:response() is the upgrade response ({status = 101, headers}, names
-- lower-cased, repeated headers joined), a fresh copy each call; client:stats() counts bytes,
-- messages, frames and pings both ways (checked against what the raw peer recorded), the
-- round trip of the last ping, how long the connection has been open, and the compression
-- ratio when permessage-deflate is on.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PY, RAW, NODE = ...

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
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. (n or 1)))
  local m, ok = recv(c:channel(), "15s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data).connections
end

test("response(): status 101 and the headers of the upgrade response", function()
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?hdr=X-Server:raw%20peer|X-Dup:one|x-dup:two"))
  local r = c:response()
  assert(r.status == 101, "status " .. tostring(r.status))
  assert(r.headers.upgrade == "websocket", "upgrade " .. tostring(r.headers.upgrade))
  assert(r.headers.connection == "Upgrade")
  assert(type(r.headers["sec-websocket-accept"]) == "string" and #r.headers["sec-websocket-accept"] == 28)
  assert(r.headers["x-server"] == "raw peer", "x-server " .. tostring(r.headers["x-server"]))
  assert(r.headers["x-dup"] == "one, two", "repeated headers: " .. tostring(r.headers["x-dup"]))
  assert(r.headers.Upgrade == nil, "names are lower-case")
  r.status, r.headers.upgrade = 0, "changed"
  local again = c:response()
  assert(again.status == 101 and again.headers.upgrade == "websocket", "response() must be a copy")
  c:close()
  assert(c:response().status == 101, "the response stays readable after close")
end)

test("response() of Python and Node servers", function()
  for _, base in ipairs { "ws://" .. PY .. "/echo", "ws://" .. NODE .. "/echo" } do
    local c = assert(websocket.connect(base, { protocols = { "chat" }, compression = 1 }))
    local r = c:response()
    assert(r.status == 101 and r.headers.upgrade and r.headers.upgrade:lower() == "websocket", base)
    assert(r.headers["sec-websocket-extensions"], base .. ": the negotiated extension is in the headers")
    c:close()
  end
end)

test("stats(): counts match what the server recorded", function()
  local id = uid("stats")
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?id=" .. id))
  local s0 = c:stats()
  assert(s0.messages_in == 0 and s0.messages_out == 0 and s0.frames_in == 0 and s0.frames_out == 0,
    "a fresh connection: " .. json.encode(s0))
  assert(s0.bytes_out > 100 and s0.bytes_in > 100, "the upgrade request and response are counted")
  assert(s0.last_rtt_ms == nil, "no rtt before a pong")
  assert(s0.pings_sent == 0 and s0.reconnects == 0)
  assert(s0.compression_ratio == nil, "uncompressed: no ratio")
  assert(type(s0.connected_for) == "number" and s0.connected_for >= 0 and s0.connected_for < 5)
  local sizes, total = { 0, 1, 125, 126, 65535, 65536, 200000 }, 0
  for i, n in ipairs(sizes) do
    assert(c:send(string.rep("x", n), i % 2 == 0 and websocket.BINARY or websocket.TEXT))
    total = total + n
  end
  for _ = 1, #sizes do assert(recv(c:channel())) end
  assert(c:ping("rtt"))
  time.sleep("200ms")
  local s = c:stats()
  assert(s.messages_out == #sizes and s.messages_in == #sizes, json.encode(s))
  assert(s.frames_out == #sizes + 1 and s.frames_in == #sizes + 1, "frames: " .. json.encode(s))
  assert(s.pings_sent == 1, "pings_sent " .. s.pings_sent)
  assert(type(s.last_rtt_ms) == "number" and s.last_rtt_ms >= 0 and s.last_rtt_ms < 200, "rtt " .. tostring(s.last_rtt_ms))
  assert(s.bytes_out >= s0.bytes_out + total and s.bytes_in >= s0.bytes_in + total, "bytes: " .. json.encode(s))
  assert(s.connected_for >= 0.2, "connected_for " .. s.connected_for)
  c:close()
  local after = c:stats()
  assert(after.connected_for == nil, "not connected: no connected_for")
  local rec = report(id)[1]
  assert(#rec.frames == after.frames_out, #rec.frames .. " frames recorded, stats say " .. after.frames_out)
  assert(after.frames_in == s.frames_in + 1, "the server's close frame is counted")
end)

test("stats(): fragments are frames, one message", function()
  local c = assert(websocket.connect("ws://" .. RAW .. "/frag-many"))
  local m = recv(c:channel())
  assert(m.type == "text")
  local s = c:stats()
  assert(s.messages_in == 1 and s.frames_in == 100, "messages " .. s.messages_in .. ", frames " .. s.frames_in)
  c:close()
end)

test("stats(): the keepalive's pings count and measure the round trip", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { ping_interval = "50ms" }))
  time.sleep("400ms")
  local s = c:stats()
  assert(s.pings_sent >= 3, "pings_sent " .. s.pings_sent)
  assert(s.last_rtt_ms and s.last_rtt_ms < 100, "rtt " .. tostring(s.last_rtt_ms))
  assert(s.frames_in >= 3, "the pongs are frames in")
  c:close()
end)

test("stats(): compression_ratio with permessage-deflate", function()
  for _, base in ipairs { "ws://" .. PY .. "/echo", "ws://" .. NODE .. "/echo" } do
    local c = assert(websocket.connect(base, { compression = "context_takeover" }))
    local s0 = c:stats()
    assert(s0.compression_ratio == 1, base .. ": ratio before any message " .. tostring(s0.compression_ratio))
    local msg = string.rep('{"symbol":"BTC-USD","price":42000.5}', 100)
    for _ = 1, 10 do assert(c:send(msg)) end
    for _ = 1, 10 do assert(recv(c:channel()).data == msg) end
    local s = c:stats()
    assert(s.compression_ratio > 5, base .. ": ratio " .. tostring(s.compression_ratio))
    assert(s.bytes_out < 10 * #msg and s.bytes_in < 10 * #msg, base .. ": compressed on the wire both ways")
    c:close()
  end
end)

assert(failures == 0, failures .. " of " .. count .. " introspection tests failed")
print(count .. " introspection tests passed")
