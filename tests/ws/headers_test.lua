-- args: {py}
-- Handshake headers: user headers are sent as given, the required ones are present and
-- correct, and Sec-WebSocket-Extensions is sent only when compression is asked for.
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

local function seen_headers(opts)
  local c, err = websocket.connect("ws://" .. PY .. "/headers?x=1", opts)
  assert(c, tostring(err))
  local r = channel.select { c:channel():case_receive(), time.after("5s"):case_receive() }
  assert(r.channel == c:channel() and r.ok, "no headers report")
  c:close()
  local rep = json.decode(r.value.data)
  local h, n = {}, {}
  for _, kv in ipairs(rep.headers) do
    local k = kv[1]:lower()
    h[k] = h[k] and (h[k] .. ", " .. kv[2]) or kv[2]
    n[k] = (n[k] or 0) + 1
  end
  return h, rep.path, n
end

test("user headers arrive as given", function()
  local h = seen_headers { headers = { Authorization = "Bearer t0k.en", ["X-Custom"] = "v a l", ["X-Empty"] = "" } }
  assert(h.authorization == "Bearer t0k.en", "Authorization " .. tostring(h.authorization))
  assert(h["x-custom"] == "v a l", "X-Custom " .. tostring(h["x-custom"]))
  assert(h["x-empty"] == "", "X-Empty " .. tostring(h["x-empty"]))
end)

test("the required handshake headers, each once", function()
  local h, path, n = seen_headers()
  assert(path == "/headers?x=1", "path " .. tostring(path))
  assert(h.host == PY, "Host " .. tostring(h.host))
  assert(h.upgrade:lower() == "websocket", "Upgrade " .. h.upgrade)
  assert(h.connection:lower():find("upgrade", 1, true), "Connection " .. h.connection)
  assert(h["sec-websocket-version"] == "13")
  assert(#h["sec-websocket-key"] == 24)
  for _, k in ipairs { "host", "upgrade", "connection", "sec-websocket-version", "sec-websocket-key" } do
    assert(n[k] == 1, k .. " sent " .. tostring(n[k]) .. " times")
  end
  assert(h["sec-websocket-extensions"] == nil, "extensions offered without compression: " .. tostring(h["sec-websocket-extensions"]))
  assert(h["sec-websocket-protocol"] == nil, "a subprotocol offered without protocols")
end)

test("every connection has a fresh key", function()
  local a, b = seen_headers(), seen_headers()
  assert(a["sec-websocket-key"] ~= b["sec-websocket-key"], "the same Sec-WebSocket-Key twice")
end)

test("compression offers permessage-deflate, with no_context parameters for NO_CONTEXT", function()
  local h = seen_headers { compression = websocket.COMPRESSION.CONTEXT_TAKEOVER }
  local ext = h["sec-websocket-extensions"] or ""
  assert(ext:find("permessage-deflate", 1, true), "offer: " .. ext)
  assert(not ext:find("no_context_takeover", 1, true), "context takeover offer asks for none: " .. ext)
  h = seen_headers { compression = websocket.COMPRESSION.NO_CONTEXT }
  ext = h["sec-websocket-extensions"] or ""
  assert(ext:find("permessage-deflate", 1, true) and ext:find("client_no_context_takeover", 1, true)
    and ext:find("server_no_context_takeover", 1, true), "offer: " .. ext)
end)

assert(failures == 0, failures .. " of " .. count .. " header tests failed")
print(count .. " header tests passed")
