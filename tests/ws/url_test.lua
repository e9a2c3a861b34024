-- args: {py}
-- URLs: malformed ones and other schemes are INVALID before any dialling; http:// is an alias
-- of ws://, the scheme is case-insensitive, and the request target is the URL's path and query
-- ("/" when there is no path).
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
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

test("malformed URLs and unsupported schemes are INVALID", function()
  for _, url in ipairs { "", "not a url", "ftp://127.0.0.1/", "file:///etc/passwd", "ws://",
                         "ws:///path", "ws://127.0.0.1:99999/", "ws://127.0.0.1:-1/", "ws://[::1/",
                         "ws://exa mple.com/", "//127.0.0.1/" } do
    local c, err = websocket.connect(url)
    assert(c == nil, string.format("%q was accepted", url))
    assert(err and errors.is(err, errors.INVALID),
      string.format("%q: expected INVALID, got %s: %s", url, tostring(err and err:kind()), tostring(err)))
  end
end)

test("http:// is an alias of ws://", function()
  local c, err = websocket.connect("http://" .. PY .. "/echo")
  assert(c, tostring(err))
  assert(c:send("via http"))
  assert(recv(c:channel()).data == "via http")
  c:close()
end)

test("the scheme and host are case-insensitive", function()
  local c, err = websocket.connect("WS://" .. PY .. "/echo")
  assert(c, tostring(err))
  c:close()
end)

test("path and query are sent as the request target", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/headers?a=1&b=two%20words"))
  local m = recv(c:channel())
  local r = json.decode(m.data)
  assert(r.path == "/headers?a=1&b=two%20words", "server saw " .. tostring(r.path))
  c:close()
end)

test("no path means /", function()
  local c = assert(websocket.connect("ws://" .. PY))
  -- the test server closes unknown paths with 1008 and names the path it saw
  local _, ok = recv(c:channel())
  assert(ok == false)
  local code, reason = c:close_status()
  assert(code == 1008 and reason == "unknown path /", tostring(code) .. " " .. tostring(reason))
end)

assert(failures == 0, failures .. " of " .. count .. " URL tests failed")
print(count .. " URL tests passed")
