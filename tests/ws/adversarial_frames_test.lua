-- args: {raw}
-- timeout: 400
-- Protocol violations from the server, one per connection (tests/ws/peers/raw_server.py,
-- /bad/<case>): the client delivers nothing of the bad message, closes the channel promptly —
-- as soon as the bad byte arrives, not when the message would end (the server holds the rest
-- back for 10 s) — reports the RFC close code through close_status(), and sends that same code
-- in its own masked close frame, which the server records and the test reads back.
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

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  return r.channel == ch, r.value, r.ok
end

local function uid(tag) return tag:gsub("[^%w]", "-") .. "-" .. math.random(1, 1000000000) end

local function report(id)
  local c, err = websocket.connect("ws://" .. RAW .. "/report?id=" .. id)
  assert(c, "report connection: " .. tostring(err))
  local got, m, ok = recv(c:channel(), "15s")
  assert(got and ok, "no report for " .. id)
  c:close()
  return json.decode(m.data)
end

local function ms_since(t0) return time.now():sub(t0):milliseconds() end

local PROTOCOL, INVALID_DATA, TOO_BIG = 1002, 1007, 1009

-- { case (path and query after /bad/), expected code, options }
local cases = {
  { "rsv1", PROTOCOL }, { "rsv2", PROTOCOL }, { "rsv3", PROTOCOL },
  { "opcode3", PROTOCOL }, { "opcode11", PROTOCOL },
  { "fragmented-ping", PROTOCOL },
  { "long-ping", PROTOCOL }, { "long-close", PROTOCOL },
  { "masked", PROTOCOL },
  { "orphan-continuation", PROTOCOL },
  { "data-in-fragment", PROTOCOL }, { "binary-in-fragment", PROTOCOL },
  { "utf8", INVALID_DATA }, { "utf8-split", INVALID_DATA }, { "utf8-first", INVALID_DATA },
  { "utf8-truncated", INVALID_DATA }, { "utf8-surrogate", INVALID_DATA }, { "utf8-overlong", INVALID_DATA },
  { "close-code?code=1005", PROTOCOL }, { "close-code?code=999", PROTOCOL }, { "close-code?code=1100", PROTOCOL },
  { "close-code?code=0", PROTOCOL }, { "close-code?code=1004", PROTOCOL }, { "close-code?code=1006", PROTOCOL },
  { "close-code?code=1015", PROTOCOL }, { "close-code?code=2999", PROTOCOL }, { "close-code?code=5000", PROTOCOL },
  { "close-1byte", PROTOCOL },
  { "close-utf8", INVALID_DATA },
  { "too-big?len=1048576", TOO_BIG, { read_limit = 1024 } },
  { "too-big?len=1099511627776", TOO_BIG },
  { "too-big-fragmented", TOO_BIG, { read_limit = 1024 } },
  { "len-top-bit", PROTOCOL },
}

for _, case in ipairs(cases) do
  local path, want, opts = case[1], case[2], case[3]
  test(path .. " -> " .. want, function()
    local id = uid(path)
    local sep = path:find("?", 1, true) and "&" or "?"
    local c, err = websocket.connect("ws://" .. RAW .. "/bad/" .. path .. sep .. "id=" .. id, opts)
    assert(c, "connect: " .. tostring(err))
    local ch = c:channel()
    local t0 = time.now()
    local delivered = 0
    while true do
      local got, m, ok = recv(ch, "5s")
      assert(got, "the channel is still open after 5 s: the client did not fail on the bad data")
      if not ok then break end
      delivered = delivered + 1
      print("  " .. path .. ": delivered " .. m.type .. " message of " .. #m.data .. " bytes")
    end
    local ms = ms_since(t0)
    assert(delivered == 0, delivered .. " message(s) delivered from a connection that violated the protocol")
    local code = c:close_status()
    assert(code == want, "close_status() " .. tostring(code) .. ", expected " .. want)
    assert(ms < 3000, "failing took " .. ms .. " ms")
    local ok2, serr = c:send("after failure")
    assert(ok2 == nil and serr, "send after a protocol failure must return nil, err")

    local conn = report(id).connections[1]
    assert(conn, "the server saw no connection")
    assert(conn.close, "the client sent no close frame (connection ended by " .. tostring(conn["end"]) .. ")")
    assert(conn.close.code == want, "the client's close frame carried " .. tostring(conn.close.code) .. ", expected " .. want)
    for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
  end)
end

assert(failures == 0, failures .. " of " .. count .. " protocol-violation tests failed")
print(count .. " protocol-violation tests passed")
