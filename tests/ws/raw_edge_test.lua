-- args: {raw}
-- timeout: 120
-- Legal but unusual traffic from a hand-written server (tests/ws/peers/raw_server.py) that the
-- client must accept: a dribbled 101 response and frames, 64-bit lengths, a ping between the
-- fragments of a message, a code point split across fragments, empty messages; and the
-- client's own frames are masked, without RSV bits, with correct lengths.
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

local function connect(url, opts)
  local c, err = websocket.connect(url, opts)
  assert(c, "connect " .. url .. " failed: " .. tostring(err))
  return c
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  assert(r.ok, "channel closed while waiting for a message")
  return r.value
end

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function report(id)
  local c = connect("ws://" .. RAW .. "/report?id=" .. id)
  local m = recv(c:channel(), "15s")
  c:close()
  return json.decode(m.data).connections[1]
end

test("a 101 response dribbled one byte at a time", function()
  local c = connect("ws://" .. RAW .. "/slow-101")
  assert(c:send("after a slow handshake"))
  assert(recv(c:channel()).data == "after a slow handshake")
  c:close()
end)

test("frames dribbled in small pieces, including a 64-bit length", function()
  local c = connect("ws://" .. RAW .. "/dribble")
  local ch = c:channel()
  local m = recv(ch)
  assert(m.type == "text" and m.data == "hello dribble", tostring(m.data))
  m = recv(ch, "20s")
  assert(m.type == "binary" and #m.data == 70000, "binary of " .. #m.data .. " bytes")
  for _, i in ipairs { 0, 1, 250, 251, 69999 } do
    assert(m.data:byte(i + 1) == i % 251, "byte " .. i .. " is " .. m.data:byte(i + 1))
  end
  c:close()
end)

test("a ping between fragments is answered and the message is whole", function()
  local id = uid("frag-ping")
  local c = connect("ws://" .. RAW .. "/frag-ping?id=" .. id)
  local m = recv(c:channel())
  assert(m.type == "text" and m.data == "Hello, world", tostring(m.data))
  c:close()
  local conn = report(id)
  local pong
  for _, f in ipairs(conn.frames) do if f.op == 10 then pong = f end end
  assert(pong and pong.text == "p1", "no pong carrying the ping's payload")
  assert(pong.masked, "the pong was not masked")
end)

test("a code point split across fragments is valid", function()
  local c = connect("ws://" .. RAW .. "/frag-utf8")
  local m = recv(c:channel())
  assert(m.type == "text" and m.data == "abc € def", tostring(m.data))
  c:close()
end)

test("empty text and empty binary messages are delivered", function()
  local c = connect("ws://" .. RAW .. "/empty")
  local ch = c:channel()
  local a, b = recv(ch), recv(ch)
  assert(a.type == "text" and a.data == "", "empty text")
  assert(b.type == "binary" and b.data == "", "empty binary")
  c:close()
end)

test("an unsolicited ping is answered with its payload", function()
  local id = uid("pinger")
  local c = connect("ws://" .. RAW .. "/pinger?id=" .. id .. "&data=knock%20knock")
  time.sleep("300ms")
  c:close()
  local conn = report(id)
  local pong
  for _, f in ipairs(conn.frames) do if f.op == 10 then pong = f end end
  assert(pong and pong.text == "knock knock", "no pong with the ping's payload")
end)

test("an unsolicited pong is ignored", function()
  local c = connect("ws://" .. RAW .. "/unsolicited-pong")
  local m = recv(c:channel())
  assert(m.type == "text" and m.data == "after pong", "the first message must be the text, got " .. tostring(m.data))
  c:close()
end)

test("a message in 100 fragments, some empty, is whole", function()
  local c = connect("ws://" .. RAW .. "/frag-many")
  local want = {}
  for i = 0, 99 do if i % 4 ~= 3 then want[#want + 1] = "<" .. i .. ">" end end
  local m = recv(c:channel())
  assert(m.type == "text" and m.data == table.concat(want), "got " .. tostring(m.data))
  c:close()
end)

test("data after the server's close frame is dropped", function()
  local c = connect("ws://" .. RAW .. "/data-after-close")
  local r = channel.select { c:channel():case_receive(), time.after("5s"):case_receive() }
  assert(r.channel == c:channel(), "the channel did not close")
  assert(r.ok == false, "delivered after the close frame: " .. tostring(r.value and r.value.data))
  local code, reason = c:close_status()
  assert(code == 1000 and reason == "done", tostring(code) .. " " .. tostring(reason))
end)

test("client frames: masked, no RSV bits, exact lengths at every boundary", function()
  local id = uid("frames")
  local c = connect("ws://" .. RAW .. "/record?id=" .. id)
  local ch = c:channel()
  local sizes = { 0, 125, 126, 65535, 65536, 70000 }
  for _, n in ipairs(sizes) do
    assert(c:send(string.rep("q", n), websocket.BINARY))
    local m = recv(ch)
    assert(#m.data == n and m.type == "binary", "echo of " .. n .. " bytes came back as " .. #m.data)
  end
  assert(c:send("text frame"))
  assert(recv(ch).data == "text frame")
  c:close()
  local conn = report(id)
  for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
  local data = {}
  for _, f in ipairs(conn.frames) do
    assert(f.masked and f.rsv == 0, "frame with opcode " .. f.op .. " is unmasked or has RSV bits")
    if f.op == 2 or f.op == 1 or f.op == 0 then data[#data + 1] = f end
  end
  local total = 0
  for _, f in ipairs(data) do total = total + f.len end
  local want = #"text frame"
  for _, n in ipairs(sizes) do want = want + n end
  assert(total == want, "payload bytes on the wire " .. total .. ", expected " .. want)
end)

assert(failures == 0, failures .. " of " .. count .. " edge-case tests failed")
print(count .. " edge-case tests passed")
