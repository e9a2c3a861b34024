-- args: {py}
-- The module's surface: constants exactly as the seed and SPEC list them, argument checks of
-- send / ping / close (INVALID, the connection stays usable), channel() and receive() giving
-- the same channel, protocol() without a subprotocol.
local websocket = require("websocket")
local time = require("time")
local PY = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch and r.ok, "no message")
  return r.value
end

local function invalid(what, ok, err)
  assert(ok == nil and err and errors.is(err, errors.INVALID),
    what .. ": expected nil, INVALID; got " .. tostring(ok) .. ", " .. tostring(err))
end

test("constants", function()
  assert(websocket.TEXT == 1 and websocket.BINARY == 2)
  assert(websocket.TYPE_TEXT == "text" and websocket.TYPE_BINARY == "binary" and websocket.TYPE_PING == "ping"
    and websocket.TYPE_PONG == "pong" and websocket.TYPE_CLOSE == "close")
  local C = websocket.COMPRESSION
  assert(C.DISABLED == 0 and C.CONTEXT_TAKEOVER == 1 and C.NO_CONTEXT == 2)
  local want = {
    NORMAL = 1000, GOING_AWAY = 1001, PROTOCOL_ERROR = 1002, UNSUPPORTED_DATA = 1003, RESERVED = 1004,
    NO_STATUS = 1005, ABNORMAL_CLOSURE = 1006, INVALID_PAYLOAD = 1007, POLICY_VIOLATION = 1008,
    MESSAGE_TOO_BIG = 1009, MANDATORY_EXTENSION = 1010, INTERNAL_ERROR = 1011, SERVICE_RESTART = 1012,
    TRY_AGAIN_LATER = 1013, BAD_GATEWAY = 1014, TLS_HANDSHAKE = 1015,
  }
  local n = 0
  for k, v in pairs(websocket.CLOSE_CODES) do
    n = n + 1
    assert(want[k] == v, "CLOSE_CODES." .. tostring(k) .. " = " .. tostring(v))
  end
  assert(n == 16, n .. " close codes")
end)

test("channel() and receive() are the same channel every call", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local ch = c:channel()
  assert(c:channel() == ch and c:receive() == ch, "different channels")
  assert(c:protocol() == nil, "no subprotocol was negotiated")
  c:close()
end)

test("send: type must be TEXT or BINARY, text must be UTF-8", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  invalid("type 3", c:send("x", 3))
  invalid("type 0", c:send("x", 0))
  invalid("type 9 (ping)", c:send("x", 9))
  invalid("invalid UTF-8 text", c:send("bad \xff text"))
  invalid("truncated UTF-8 text", c:send("\xe2\x82"))
  assert(not pcall(c.send, c, {}), "a table as data must raise")
  assert(not pcall(c.send), "send without self must raise")
  -- the connection is still fine, and the same bytes go as binary
  assert(c:send("bad \xff text", websocket.BINARY) == true)
  local m = recv(c:channel())
  assert(m.type == "binary" and m.data == "bad \xff text")
  assert(c:send("default is text") == true)
  assert(recv(c:channel()).type == "text")
  c:close()
end)

test("close: code and reason are checked; the connection stays open after a refusal", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  for _, code in ipairs { 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535 } do
    invalid("close(" .. code .. ")", c:close(code))
  end
  invalid("reason of 124 bytes", c:close(1000, string.rep("r", 124)))
  invalid("reason not UTF-8", c:close(1000, "\xff"))
  assert(c:send("still open"))
  assert(recv(c:channel()).data == "still open")
  assert(c:close(websocket.CLOSE_CODES.GOING_AWAY, string.rep("r", 123)) == true)
end)

test("every valid close code is accepted", function()
  for _, code in ipairs { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999 } do
    local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
    assert(c:close(code, "code " .. code) == true, "close(" .. code .. ") refused")
  end
end)

assert(failures == 0, failures .. " of " .. count .. " API tests failed")
print(count .. " API tests passed")
