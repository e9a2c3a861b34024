-- args: {raw} {rawtls} {py} {pytls} {certs}
-- timeout: 120
-- follow_redirects = n: 301, 302, 303, 307 and 308 answers to the upgrade are followed, at most
-- n hops (0..10, INVALID otherwise), then an error with the last status; absolute and relative
-- Locations; a loop ends at the limit; wss:// -> ws:// is refused; Authorization and Cookie do
-- not follow a redirect to another origin; without the option nothing is followed.
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local RAW, RAWTLS, PY, PYTLS, CERTS = ...

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

local function enc(s)
  return (s:gsub("[^%w%-_%.~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

local function report(id, n)
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. (n or 1)))
  local m, ok = recv(c:channel(), "15s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data).connections
end

local function headers_of(conn)
  local h = {}
  for _, kv in ipairs(conn.headers) do h[kv[1]:lower()] = kv[2] end
  return h
end

test("a chain of redirects is followed to the end", function()
  for _, code in ipairs { 301, 302, 303, 307, 308 } do
    local hops, final = uid("hops"), uid("final")
    local url = "ws://" .. RAW .. "/redir?code=" .. code .. "&n=2&id=" .. hops .. "&to=" .. enc("/record?id=" .. final)
    local c = assert(websocket.connect(url, { follow_redirects = 3 }))
    assert(c:send("arrived"))
    assert(recv(c:channel()).data == "arrived")
    assert(c:response().status == 101)
    c:close()
    assert(#report(hops, 3) == 3, code .. ": three hops answered with a redirect")
    assert(#report(final) == 1, code .. ": the final server got the connection")
  end
end)

test("exactly follow_redirects hops pass; one more is an error with the last status", function()
  local url = "ws://" .. RAW .. "/redir?code=307&n=2"
  local c = assert(websocket.connect(url, { follow_redirects = 3 }))
  c:close()
  local c2, err = websocket.connect(url, { follow_redirects = 2 })
  assert(c2 == nil and errors.is(err, errors.INTERNAL) and not err:retryable(), tostring(err))
  local d = err:details()
  assert(d.stage == "handshake" and d.status == 307 and d.redirects == 2, json.encode(d))
  assert(d.location:match("/record$"), "the last Location: " .. tostring(d.location))
  assert(err:message():match("too many redirects"), err:message())
end)

test("a redirect loop stops at the limit", function()
  local c, err = websocket.connect("ws://" .. RAW .. "/redir?loop=1&code=301", { follow_redirects = 10 })
  assert(c == nil and err:details().redirects == 10 and err:details().status == 301, tostring(err))
end)

test("relative Locations resolve against the current URL", function()
  local final = uid("rel")
  local c = assert(websocket.connect("ws://" .. RAW .. "/redir?rel=1&n=1&to=" .. enc("/record?id=" .. final),
    { follow_redirects = 2 }))
  c:close()
  assert(#report(final) == 1)
end)

test("without follow_redirects a redirect is an error carrying the Location", function()
  local c, err = websocket.connect("ws://" .. RAW .. "/redir?code=302")
  assert(c == nil and err:retryable() and err:details().status == 302, tostring(err))
  assert(err:details().location == "ws://" .. RAW .. "/record")
  assert(err:details().redirects == nil)
end)

test("ws:// to wss:// is followed; wss:// to ws:// is refused", function()
  local up = "ws://" .. RAW .. "/redir?to=" .. enc("wss://" .. PYTLS .. "/echo")
  local c = assert(websocket.connect(up, { follow_redirects = 1, tls = { ca_file = CERTS .. "/ca.pem" } }))
  assert(c:send("upgraded"))
  assert(recv(c:channel()).data == "upgraded")
  c:close()
  local down = "wss://" .. RAWTLS .. "/redir?to=" .. enc("ws://" .. RAW .. "/record")
  local c2, err = websocket.connect(down, { follow_redirects = 1, tls = { ca_file = CERTS .. "/ca.pem" } })
  assert(c2 == nil and not err:retryable() and err:message():match("refused"), tostring(err))
end)

test("Authorization and Cookie stay with their origin", function()
  local same, other = uid("same"), uid("other")
  local hdrs = { Authorization = "Bearer t0ken", Cookie = "s=1", ["X-Trace"] = "abc" }
  local port = RAW:match(":(%d+)$")
  -- same origin: everything is sent again
  local c = assert(websocket.connect("ws://" .. RAW .. "/redir?to=" .. enc("/record?id=" .. same),
    { follow_redirects = 1, headers = hdrs }))
  c:close()
  local h = headers_of(report(same)[1])
  assert(h.authorization == "Bearer t0ken" and h.cookie == "s=1" and h["x-trace"] == "abc", json.encode(h))
  -- another host (localhost is another origin than 127.0.0.1)
  c = assert(websocket.connect("ws://" .. RAW .. "/redir?to=" .. enc("ws://localhost:" .. port .. "/record?id=" .. other),
    { follow_redirects = 1, headers = hdrs }))
  c:close()
  h = headers_of(report(other)[1])
  assert(h.authorization == nil and h.cookie == nil, "credentials leaked: " .. json.encode(h))
  assert(h["x-trace"] == "abc", "other headers follow")
end)

test("an unusable Location is an error", function()
  local c, err = websocket.connect("ws://" .. RAW .. "/redir?to=" .. enc("ftp://example.com/x"), { follow_redirects = 1 })
  assert(c == nil and not err:retryable() and err:message():match("unusable Location"), tostring(err))
end)

test("follow_redirects is checked", function()
  for _, v in ipairs { -1, 11, 1.5, "3", true } do
    local c, err = websocket.connect("ws://" .. PY .. "/echo", { follow_redirects = v })
    assert(c == nil and errors.is(err, errors.INVALID) and err:message():match("follow_redirects"),
      tostring(v) .. ": " .. tostring(err))
  end
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { follow_redirects = 0 }))
  c:close()
  c = assert(websocket.connect("ws://" .. PY .. "/echo", { follow_redirects = 10 }))
  c:close()
end)

test("reconnect follows the redirects again from the original URL", function()
  local id = uid("redial")
  local url = "ws://" .. RAW .. "/redir?code=302&to=" .. enc("/session?id=" .. id .. "&plan=eof,ok&ms=100")
  local c = assert(websocket.connect(url, { follow_redirects = 1, reconnect = { initial_delay = 20, jitter = 0 } }))
  assert(recv(c:channel()).data == "hello 1")
  assert(recv(c:channel(), "10s").data == "hello 2")
  c:close()
end)

assert(failures == 0, failures .. " of " .. count .. " redirect tests failed")
print(count .. " redirect tests passed")
