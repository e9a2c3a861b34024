-- args: {py} {refused}
-- Options: every out-of-range or malformed option is nil, err with kind INVALID and a message
-- that names it — checked before any dialling (the URL is a refused port, so a missed check
-- shows up as a connection error instead); the boundary values are accepted.
local websocket = require("websocket")
local PY, REFUSED = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local nowhere = "ws://" .. REFUSED .. "/"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- opts must be refused as INVALID with a message containing `names` (case-insensitive).
local function invalid(opts, names)
  local c, err = websocket.connect(nowhere, opts)
  local what = show(opts)
  assert(c == nil, what .. " was accepted")
  assert(err ~= nil and errors.is(err, errors.INVALID),
    what .. ": expected INVALID, got " .. tostring(err and err:kind()) .. ": " .. tostring(err))
  local msg = err:message():lower()
  assert(msg:find(names:lower(), 1, true), what .. ": message does not name " .. names .. ": " .. err:message())
end

test("durations out of range or unparsable", function()
  for _, name in ipairs { "dial_timeout", "read_timeout", "write_timeout", "ping_interval", "ping_timeout" } do
    for _, v in ipairs { -1, "-1s", "5x", "abc", "", "1 s", "s", "1.2.3s" } do
      invalid({ [name] = v }, name)
    end
  end
end)

test("compression: only 0, 1, 2 and the named modes", function()
  for _, v in ipairs { 3, -1, 1.5, "zip", "deflate", "" } do invalid({ compression = v }, "compression") end
end)

test("compression_threshold: 0 to 104857600", function()
  for _, v in ipairs { -1, 104857601, 2.5 } do invalid({ compression_threshold = v }, "compression_threshold") end
end)

test("read_limit: 0 to 134217728", function()
  for _, v in ipairs { -1, 134217729, 1e12, 0.5 } do invalid({ read_limit = v }, "read_limit") end
end)

test("channel_capacity: 1 to 10000", function()
  for _, v in ipairs { 0, -3, 10001, 2.5 } do invalid({ channel_capacity = v }, "channel_capacity") end
end)

test("reserved and malformed headers", function()
  invalid({ headers = { Host = "evil.example" } }, "host")
  invalid({ headers = { upgrade = "h2c" } }, "upgrade")
  invalid({ headers = { Connection = "close" } }, "connection")
  invalid({ headers = { ["Sec-WebSocket-Key"] = "AAAAAAAAAAAAAAAAAAAAAA==" } }, "sec-websocket-key")
  invalid({ headers = { ["sec-websocket-protocol"] = "chat" } }, "sec-websocket-protocol")
  invalid({ headers = { ["Sec-WebSocket-Extensions"] = "permessage-deflate" } }, "sec-websocket-extensions")
  invalid({ headers = { ["Bad Name"] = "x" } }, "bad name")
  invalid({ headers = { ["X-Ok"] = "a\r\nInjected: 1" } }, "x-ok")
  invalid({ headers = { ["X-Nul"] = "a\0b" } }, "x-nul")
  invalid({ headers = { [""] = "x" } }, "header")
end)

test("protocols must be distinct RFC 6455 tokens", function()
  invalid({ protocols = { "bad token" } }, "protocol")
  invalid({ protocols = { "" } }, "protocol")
  invalid({ protocols = { "chat", "chat" } }, "protocol")
  invalid({ protocols = { "semi;colon" } }, "protocol")
  invalid({ protocols = { "x\r\ny" } }, "protocol")
end)

test("unknown option keys are named", function()
  invalid({ dialtimeout = "1s" }, "dialtimeout")
  invalid({ foo = 1 }, "foo")
  invalid({ tls = { bogus = true } }, "bogus")
end)

test("wrong argument types raise", function()
  assert(not pcall(websocket.connect), "connect() without a URL must raise")
  assert(not pcall(websocket.connect, nowhere, "not a table"), "a string as options must raise")
end)

test("boundary values are accepted", function()
  local good = {
    { channel_capacity = 1 }, { channel_capacity = 10000 },
    { read_limit = 0 }, { read_limit = 1 }, { read_limit = 134217728 },
    { compression_threshold = 0 }, { compression_threshold = 104857600 },
    { compression = 0 }, { compression = 1 }, { compression = 2 },
    { compression = websocket.COMPRESSION.DISABLED }, { compression = websocket.COMPRESSION.CONTEXT_TAKEOVER },
    { compression = websocket.COMPRESSION.NO_CONTEXT },
    { compression = "disabled" }, { compression = "context_takeover" }, { compression = "no_context" },
    { compression = "no_context_takeover" },
    { dial_timeout = 1500 }, { dial_timeout = "1500ms" }, { dial_timeout = "2s" }, { dial_timeout = "1m" },
    { dial_timeout = "1h2m3.5s" }, { dial_timeout = "2500000us" }, { dial_timeout = "2500000µs" },
    { read_timeout = 0 }, { write_timeout = 0 }, { read_timeout = "1h" }, { write_timeout = 60000 },
    { ping_interval = 0 }, { ping_interval = "30s", ping_timeout = "10s" },
    { headers = { Authorization = "Bearer abc", ["X-Trace"] = "t\t1" } },
    { protocols = { "chat.v1", "graphql-ws" } }, { protocols = {} }, { headers = {} },
  }
  for _, opts in ipairs(good) do
    local c, err = websocket.connect("ws://" .. PY .. "/echo", opts)
    assert(c, show(opts) .. " refused: " .. tostring(err))
    assert(c:close())
  end
end)

assert(failures == 0, failures .. " of " .. count .. " option tests failed")
print(count .. " option tests passed")
