-- args: {pytls} {rawtls} {ngx} {certs}
-- timeout: 300
-- Everything that works over ws:// works over wss:// (Python websockets with TLS, the raw peer
-- behind a TLS relay, nginx terminating TLS): large messages both ways, many messages pipelined,
-- back-pressure with a slow consumer, compression in both modes (negotiated through nginx too),
-- the server's close code and reason, pings answered and the keepalive, the client's close
-- frame, and close_notify: the relay records that the client ended its TLS session with one.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local TLS, RAWTLS, NGX, CERTS = ...

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

local TLSOPT = { ca_file = CERTS .. "/ca.pem" }
local function url(addr, path) return "wss://localhost:" .. addr:match(":(%d+)$") .. path end
local function connect(u, opts)
  opts = opts or {}
  opts.tls = opts.tls or TLSOPT
  local c, err = websocket.connect(u, opts)
  assert(c, u .. ": " .. tostring(err))
  return c
end

local function report(id, extra)
  local rc = connect(url(RAWTLS, "/report?id=" .. id .. (extra or "")))
  local m, ok = recv(rc:channel(), "15s")
  assert(ok, "no report")
  rc:close()
  return json.decode(m.data)
end

test("large messages both ways: 8 MiB binary, 3 MiB text (Python and nginx)", function()
  for _, addr in ipairs { TLS, NGX } do
    local c = connect(url(addr, "/echo"))
    local big = string.rep("\1\2\3\4\5\6\7\8", 1024 * 1024)
    local text = string.rep("wss text ", 3 * 1024 * 1024 // 9)
    assert(c:send(big, websocket.BINARY))
    assert(c:send(text))
    local m, ok = recv(c:channel(), "60s")
    assert(ok and m.data == big and m.type == "binary", "8 MiB binary came back different")
    m, ok = recv(c:channel(), "60s")
    assert(ok and m.data == text and m.type == "text", "3 MiB text came back different")
    m, big, text = nil, nil, nil
    collectgarbage()
    assert(c:close())
  end
end)

test("2000 messages pipelined, sizes 0..70000, order kept", function()
  local c = connect(url(TLS, "/echo"))
  local done = channel.new(1)
  coroutine.spawn(function()
    local ok, err = pcall(function()
      for i = 1, 2000 do assert(c:send(i .. ":" .. string.rep("x", (i * 7919) % 70000))) end
    end)
    done:send(ok or err)
  end)
  for i = 1, 2000 do
    local m, ok = recv(c:channel(), "30s")
    assert(ok, "closed at " .. i)
    assert(m.data:match("^(%d+):") == tostring(i) and #m.data == #tostring(i) + 1 + (i * 7919) % 70000,
      "message " .. i .. " wrong")
  end
  assert(recv(done, "30s") == true)
  c:close()
end)

test("back-pressure: a slow consumer with channel_capacity = 4 gets all 20000 flooded messages", function()
  local c = connect(url(TLS, "/flood?n=20000&size=100"), { channel_capacity = 4 })
  local ch = c:channel()
  for i = 1, 20000 do
    local m, ok = recv(ch, "30s")
    assert(ok, "closed after " .. (i - 1) .. " messages")
    assert(#ch <= 4, "channel holds " .. #ch)
    assert(tonumber(m.data:sub(1, 10)) == i, "message " .. i .. " out of order")
    if i % 2000 == 0 then time.sleep("20ms") end
  end
  local _, ok = recv(ch, "10s")
  assert(ok == false, "more than 20000 messages")
  local code, reason = c:close_status()
  assert(code == 1000 and reason == "flood done", "close_status " .. tostring(code) .. " " .. tostring(reason))
end)

test("compression over TLS: both modes, negotiated with Python directly and through nginx", function()
  for _, addr in ipairs { TLS, NGX } do
    for _, mode in ipairs { 1, 2 } do
      local c = connect(url(addr, "/extensions"), { compression = mode, compression_threshold = 0 })
      local ext = json.decode(recv(c:channel()).data).extensions
      assert(#ext == 1 and ext[1].name == "permessage-deflate", "extensions: " .. json.encode(ext))
      assert(ext[1].server_no_context_takeover == (mode == 2), json.encode(ext))
      local msgs = {}
      for i = 1, 200 do msgs[i] = string.rep('{"n":' .. i .. ',"v":"abc"}', i * 3) end
      for _, s in ipairs(msgs) do assert(c:send(s)) end
      for i, s in ipairs(msgs) do
        local m, ok = recv(c:channel())
        assert(ok and m.data == s, "compressed message " .. i .. " came back different")
      end
      assert(c:close())
    end
  end
end)

test("the server's close code and reason, after the messages before it", function()
  local c = connect(url(TLS, "/close?code=4001&reason=bye&before=3"))
  for i = 1, 3 do
    local m, ok = recv(c:channel())
    assert(ok and m.data == "m" .. i)
  end
  local _, ok = recv(c:channel())
  assert(ok == false)
  local code, reason = c:close_status()
  assert(code == 4001 and reason == "bye", "close_status " .. tostring(code) .. " " .. tostring(reason))
end)

test("pings from the server are answered; the keepalive pings and gets pongs", function()
  local c = connect(url(TLS, "/ping?n=3"))
  local m = recv(c:channel())
  assert(m.data == "pongs:3", m.data)
  c:close()
  c = connect(url(TLS, "/delay?ms=1200&text=late"), { ping_interval = "200ms", ping_timeout = "500ms" })
  m = recv(c:channel(), "5s")
  assert(m.data == "late", "the keepalive broke the connection: " .. tostring(c:close_status()))
  c:close()
end)

test("the client's close frame, then close_notify before TCP ends", function()
  local id = uid("notify")
  local c = connect(url(RAWTLS, "/record?id=" .. id))
  assert(c:send("hello"))
  assert(recv(c:channel()).data == "hello")
  assert(c:close(4321, "bye over tls"))
  local r = report(id, "&tls=1")
  local conn = r.connections[1]
  assert(conn and conn.close and conn.close.code == 4321 and conn.close.reason == "bye over tls",
    "close frame: " .. json.encode(conn and conn.close))
  for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
  assert(#r.tls == 1, "TLS sessions recorded: " .. json.encode(r.tls))
  assert(r.tls[1].close_notify == true, "the client ended TLS without close_notify: " .. json.encode(r.tls[1]))
end)

test("close_notify also when the client fails the connection (1009)", function()
  local id = uid("notify-fail")
  local c = connect(url(RAWTLS, "/record?id=" .. id), { read_limit = 100 })
  assert(c:send(string.rep("y", 200)))
  local _, ok = recv(c:channel())
  assert(ok == false and c:close_status() == 1009, "close_status " .. tostring(c:close_status()))
  local r = report(id, "&tls=1")
  assert(r.connections[1].close.code == 1009, "close frame: " .. json.encode(r.connections[1].close))
  assert(r.tls[1] and r.tls[1].close_notify == true, "TLS end: " .. json.encode(r.tls))
end)

assert(failures == 0, failures .. " of " .. count .. " TLS transport tests failed")
print(count .. " TLS transport tests passed")
