-- args: {proxy} {proxyauth} {proxydeny} {py} {raw} {pytls} {certs} {refused} {silent}
-- timeout: 120
-- HTTP proxies (tinyproxy): the proxy option tunnels ws:// and wss:// (TLS inside the tunnel)
-- with CONNECT; credentials from the proxy URL go as Proxy-Authorization Basic; a 407 or 403
-- is an error at stage "proxy" with the status, not retryable; an unreachable proxy is a tcp
-- failure naming the proxy; bad proxy URLs are INVALID.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PROXY, PROXYAUTH, PROXYDENY, PY, RAW, PYTLS, CERTS, REFUSED, SILENT = ...

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

local function echo(c, text)
  assert(c:send(text))
  local m = recv(c:channel())
  assert(m.data == text, "echo: " .. tostring(m.data))
end

local TLS = { ca_file = CERTS .. "/ca.pem" }
local AUTH = "http://alice:s3cret@" .. PROXYAUTH

test("ws:// through an open proxy", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. PROXY }))
  echo(c, "through the tunnel")
  echo(c, string.rep("big ", 100000))
  assert(c:response().status == 101)
  c:close()
  assert(c:close_status() == 1000)
end)

test("a proxy given as host:port means http://", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = PROXY }))
  echo(c, "short form")
  c:close()
end)

test("wss:// through the proxy: TLS inside the tunnel, verified against the server's name", function()
  local c = assert(websocket.connect("wss://" .. PYTLS .. "/echo", { proxy = "http://" .. PROXY, tls = TLS }))
  echo(c, "encrypted end to end")
  c:close()
  local port = PYTLS:match(":(%d+)$")
  local c2 = assert(websocket.connect("wss://localhost:" .. port .. "/echo", { proxy = "http://" .. PROXY, tls = TLS }))
  echo(c2, "by name: the proxy resolves it")
  c2:close()
  local c3, err = websocket.connect("wss://" .. PYTLS .. "/echo", { proxy = "http://" .. PROXY })
  assert(c3 == nil and err:details().stage == "tls" and not err:retryable(),
    "an unknown CA is still refused through a tunnel: " .. tostring(err))
end)

test("the server sees the request the client made, through the tunnel", function()
  local id = uid("via")
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?id=" .. id,
    { proxy = AUTH, headers = { ["X-Via"] = "tunnel" } }))
  echo(c, "recorded")
  c:close()
  local rc = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id))
  local conn = json.decode(recv(rc:channel(), "10s").data).connections[1]
  rc:close()
  local h = {}
  for _, kv in ipairs(conn.headers) do h[kv[1]:lower()] = kv[2] end
  assert(h["x-via"] == "tunnel", "user headers go to the server")
  assert(h["proxy-authorization"] == nil, "proxy credentials never reach the server")
  assert(conn.close and conn.close.code == 1000)
end)

test("Proxy-Authorization Basic from the proxy URL", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = AUTH }))
  echo(c, "authenticated")
  c:close()
  local c2 = assert(websocket.connect("wss://" .. PYTLS .. "/echo", { proxy = AUTH, tls = TLS }))
  echo(c2, "authenticated and encrypted")
  c2:close()
end)

test("407 without credentials, 401/407 with wrong ones: stage proxy, not retryable", function()
  for _, p in ipairs { "http://" .. PROXYAUTH, "http://alice:wrong@" .. PROXYAUTH, "http://bob@" .. PROXYAUTH } do
    local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = p })
    assert(c == nil and errors.is(err, errors.INTERNAL), p .. ": " .. tostring(err))
    local d = err:details()
    -- tinyproxy answers wrong credentials with 401, missing ones with 407
    assert(d.stage == "proxy" and (d.status == 407 or (d.status == 401 and p ~= "http://" .. PROXYAUTH)),
      p .. ": " .. json.encode(d))
    assert(not err:retryable(), "407 is final")
    assert(d.proxy == "http://" .. PROXYAUTH, "details name the proxy without credentials: " .. tostring(d.proxy))
    assert(err:message():match(tostring(d.status)), err:message())
    assert(not err:message():match("alice:") and not err:message():match("bob@"), "no credentials in messages")
  end
  local _, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. PROXYAUTH })
  assert(err:message():match("Basic realm"), "the challenge is quoted: " .. err:message())
end)

test("a proxy that refuses the port: 403, stage proxy, not retryable", function()
  local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. PROXYDENY })
  assert(c == nil, "the proxy allows CONNECT to 443 only")
  local d = err:details()
  assert(d.stage == "proxy" and d.status == 403 and not err:retryable(), tostring(err))
end)

test("a proxy that cannot reach the server: its status, retryable", function()
  local c, err = websocket.connect("ws://" .. REFUSED .. "/", { proxy = "http://" .. PROXY })
  assert(c == nil and err:details().stage == "proxy", tostring(err))
  local st = err:details().status
  assert(st and st >= 500, "status " .. tostring(st))
  assert(err:retryable(), "the server may come back")
end)

test("an unreachable proxy: stage tcp, the message says proxy", function()
  local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. REFUSED })
  assert(c == nil and err:details().stage == "tcp" and err:retryable(), tostring(err))
  assert(err:message():match("connect to proxy " .. REFUSED:gsub("%.", "%%.")), err:message())
  assert(err:details().proxy == "http://" .. REFUSED)
end)

test("a proxy that is not one: stage proxy", function()
  -- the Python WebSocket server answers CONNECT with an HTTP error of its own
  local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. PY, dial_timeout = "5s" })
  assert(c == nil and err:details().stage == "proxy", tostring(err))
end)

test("dial_timeout covers the proxy: a proxy that never answers is TIMEOUT at stage proxy", function()
  local t0 = time.now()
  local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. SILENT, dial_timeout = "300ms" })
  local ms = time.now():sub(t0):milliseconds()
  assert(c == nil and errors.is(err, errors.TIMEOUT) and err:retryable(), tostring(err))
  assert(err:details().stage == "proxy", "stage " .. tostring(err:details().stage))
  assert(ms >= 290 and ms < 2000, "gave up after " .. ms .. " ms")
end)

test("bad proxy values are INVALID", function()
  local function invalid(v, needle)
    local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = v })
    assert(c == nil and errors.is(err, errors.INVALID), "proxy = " .. tostring(v) .. ": " .. tostring(err))
    assert(err:message():find(needle, 1, true), err:message())
  end
  invalid("https://" .. PROXY, "unsupported proxy scheme")
  invalid("socks5://" .. PROXY, "unsupported proxy scheme")
  invalid("http://" .. PROXY .. "/path", "must not have a path")
  invalid("", "proxy must not be empty")
  invalid(true, "proxy must be an http:// proxy URL string or false")
  invalid(3128, "proxy must be")
  local c, err = websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://user:pa%ss@" .. PROXY })
  assert(c == nil and errors.is(err, errors.INVALID) and not err:message():match("pa%%ss"), tostring(err))
end)

test("proxy = false connects directly", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = false }))
  echo(c, "direct")
  c:close()
end)

test("reconnect goes through the proxy again", function()
  local id = uid("proxy-reconnect")
  local c = assert(websocket.connect("ws://" .. RAW .. "/session?id=" .. id .. "&plan=eof,ok&ms=100",
    { proxy = AUTH, reconnect = { initial_delay = 20, jitter = 0 } }))
  assert(recv(c:channel()).data == "hello 1")
  assert(recv(c:channel(), "10s").data == "hello 2")
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " proxy tests failed")
print(count .. " proxy tests passed")
