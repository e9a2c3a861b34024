-- args: {raw}
-- timeout: 240
-- Broken opening handshakes (tests/ws/peers/raw_server.py, /hs/<case>): connect returns nil,
-- err with kind INTERNAL, retryable, details().stage == "handshake" and details().status = the
-- HTTP status; it judges the response itself instead of waiting for the server to hang up (the
-- server keeps the socket open 10 s), sends no frame afterwards, and follows no redirect.
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

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function report(id, n)
  local c, err = websocket.connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. (n or 1))
  assert(c, "report connection: " .. tostring(err))
  local r = channel.select { c:channel():case_receive(), time.after("15s"):case_receive() }
  assert(r.channel == c:channel() and r.ok, "no report for " .. id)
  c:close()
  return json.decode(r.value.data)
end

local function ms_since(t0) return time.now():sub(t0):milliseconds() end

-- { case, expected status (false: no HTTP status to report), options }
local cases = {
  { "bad-accept", 101 },
  { "no-accept", 101 },
  { "no-upgrade", 101 },
  { "wrong-upgrade", 101 },
  { "no-connection", 101 },
  { "status-200", 200 },
  { "status-404", 404 },
  { "redirect", 301 },
  { "protocol-unoffered", 101, { protocols = { "chat" } } },
  { "protocol-unoffered", 101 },
  { "extension-unoffered", 101 },
  { "extension-unknown", 101, { compression = websocket.COMPRESSION.CONTEXT_TAKEOVER } },
  { "huge-headers", nil },
  { "garbage", false },
  { "eof", false },
}

for _, case in ipairs(cases) do
  local name, status, opts = case[1], case[2], case[3]
  test(name .. (opts and " (with options)" or ""), function()
    local id = uid(name)
    local target = uid("redirect-target")
    local t0 = time.now()
    local c, err = websocket.connect("ws://" .. RAW .. "/hs/" .. name .. "?id=" .. id .. "&to=" .. target, opts)
    local ms = ms_since(t0)
    assert(c == nil, "the handshake was accepted")
    assert(err and errors.is(err, errors.INTERNAL), "expected INTERNAL, got " .. tostring(err and err:kind()) .. ": " .. tostring(err))
    assert(err:retryable() == true, "a handshake failure is retryable")
    local d = err:details()
    assert(type(d) == "table" and d.stage == "handshake", "details().stage = " .. tostring(d and d.stage))
    if status then
      assert(d.status == status, "details().status = " .. tostring(d.status) .. ", expected " .. status)
    elseif status == false then
      assert(d.status == nil, "details().status = " .. tostring(d.status) .. " for a response without a status")
    end
    assert(ms < 3000, "the failure took " .. ms .. " ms: the client waited for the server to hang up")

    local conn = report(id).connections[1]
    assert(conn, "the server saw no connection")
    for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
    if name == "redirect" then
      time.sleep("200ms")
      local r = report(target, 0)
      assert(#r.connections == 0, "the redirect was followed")
    end
  end)
end

test("the upgrade request itself is well-formed", function()
  local id = uid("request")
  local c = assert(websocket.connect("ws://" .. RAW .. "/record?id=" .. id))
  c:close()
  local conn = report(id).connections[1]
  assert(conn.target == "/record?id=" .. id, "request target " .. tostring(conn.target))
  local h = {}
  for _, kv in ipairs(conn.headers) do h[kv[1]:lower()] = kv[2] end
  assert(h.host == RAW, "Host " .. tostring(h.host))
  assert(h.upgrade and h.upgrade:lower() == "websocket", "Upgrade " .. tostring(h.upgrade))
  assert(h.connection and h.connection:lower():find("upgrade", 1, true), "Connection " .. tostring(h.connection))
  assert(h["sec-websocket-version"] == "13", "Sec-WebSocket-Version " .. tostring(h["sec-websocket-version"]))
  local key = h["sec-websocket-key"]
  assert(key and #key == 24 and key:match("^[A-Za-z0-9+/]+==$"), "Sec-WebSocket-Key " .. tostring(key))
end)

assert(failures == 0, failures .. " of " .. count .. " handshake tests failed")
print(count .. " handshake tests passed")
