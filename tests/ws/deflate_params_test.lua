-- args: {raw} {py}
-- timeout: 180
-- permessage-deflate against a hand-written zlib peer (raw_server.py /pmd) that answers the
-- offer with a chosen Sec-WebSocket-Extensions and then holds both sides to it: it inflates
-- what the client sends with the agreed client window and context (a message that does not
-- inflate is a server-side finding), and compresses its echoes with its own agreed window and
-- context. Covers server_max_window_bits / client_max_window_bits answers, unrequested
-- server_no_context_takeover and client_no_context_takeover, a declined offer, answers that must
-- fail the handshake, fragmented compressed messages (with a ping between fragments, and from
-- Python websockets too), RSV1 only on the first frame of a compressed message and never on
-- control frames, and broken compressed data from the server (1007, 1002).
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local RAW, PY = ...

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

local function urlenc(s)
  return (s:gsub("[^%w%-_%.~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

local function pmd_url(id, answer, extra)
  return "ws://" .. RAW .. "/pmd?id=" .. id .. "&answer=" .. urlenc(answer) .. (extra or "")
end

local function report(id)
  local rc = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id))
  local m = recv(rc:channel(), "15s")
  rc:close()
  return json.decode(m.data).connections[1]
end

local seed = 7
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(rnd(256)) end
  return table.concat(t)
end

-- Messages whose repetitions lie far apart: a compressor that uses a bigger window than agreed
-- emits back-references the peer's smaller window cannot resolve.
local BLOCK = random_bytes(3000)
local function messages()
  return {
    { BLOCK .. random_bytes(2000) .. BLOCK, websocket.BINARY }, -- repeat at distance 5000
    { BLOCK, websocket.BINARY },                                -- repeat of the last message
    { string.rep("abcdefgh", 4000), websocket.TEXT },
    { string.rep('{"k":"v","n":1},', 500), websocket.TEXT },
    { "short", websocket.TEXT },
    { string.rep("é✓", 3000), websocket.TEXT },
    { "", websocket.BINARY },
    { BLOCK .. BLOCK .. BLOCK, websocket.BINARY },
  }
end

-- Echoes every message through /pmd with `answer`; returns the server's record.
local function echo_case(answer, opts, extra)
  local id = uid("pmd")
  local c, err = websocket.connect(pmd_url(id, answer, extra), opts)
  assert(c, "connect failed: " .. tostring(err))
  local ch = c:channel()
  local msgs = messages()
  for round = 1, 2 do -- twice: the second round runs on the context the first left
    for _, m in ipairs(msgs) do assert(c:send(m[1], m[2])) end
    for i, m in ipairs(msgs) do
      local got, ok = recv(ch)
      assert(ok, "channel closed at message " .. i .. " of round " .. round .. ": " .. tostring(c:close_status()))
      assert(got.data == m[1], "round " .. round .. ", message " .. i .. " came back different (" .. #got.data .. " of " .. #m[1] .. " bytes)")
      assert(got.type == (m[2] == websocket.BINARY and "binary" or "text"), "message " .. i .. " type " .. got.type)
    end
  end
  assert(c:ping("p"))
  assert(c:close())
  assert(c:close_status() == 1000, "close_status " .. tostring(c:close_status()))
  local conn = report(id)
  for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
  -- RSV1 only on data frames (the server flags any other); control frames never compressed
  for _, f in ipairs(conn.frames) do
    if f.op >= 8 then assert(f.rsv == 0, "control frame " .. f.op .. " has RSV bits " .. f.rsv) end
  end
  return conn
end

local function compressed_count(conn)
  local n = 0
  for _, m in ipairs(conn.messages) do if m.compressed then n = n + 1 end end
  return n
end

test("server_max_window_bits=10 (the server's window, smaller than offered)", function()
  local conn = echo_case("permessage-deflate; server_max_window_bits=10", { compression = 1 })
  assert(compressed_count(conn) >= 12, "only " .. compressed_count(conn) .. " messages went out compressed")
end)

test("server_max_window_bits=9 and client_max_window_bits=9: our window shrinks to 9 bits", function()
  echo_case("permessage-deflate; server_max_window_bits=9; client_max_window_bits=9", { compression = 1 })
end)

test("client_max_window_bits=8: deflated with a window the peer's 256-byte inflater accepts", function()
  echo_case("permessage-deflate; client_max_window_bits=8", { compression = 1 })
end)

test("the fallback element accepted: no window parameters (server keeps 15 bits)", function()
  echo_case("permessage-deflate; client_max_window_bits=12", { compression = 1 })
end)

test("unrequested server_no_context_takeover is honoured", function()
  echo_case("permessage-deflate; server_no_context_takeover", { compression = 1 })
end)

test("unrequested client_no_context_takeover: each message compressed on its own", function()
  echo_case("permessage-deflate; client_no_context_takeover; server_max_window_bits=12", { compression = 1 })
end)

test("no_context: both directions without context, quoted and spaced parameter syntax", function()
  echo_case('permessage-deflate ; client_no_context_takeover ; server_no_context_takeover ; client_max_window_bits="10"',
    { compression = 2 })
end)

test("a declined offer means uncompressed", function()
  local conn = echo_case("", { compression = 1, compression_threshold = 0 })
  assert(compressed_count(conn) == 0, "compressed messages without permessage-deflate")
end)

test("fragmented compressed messages, a ping between the first fragments", function()
  echo_case("permessage-deflate; server_max_window_bits=11", { compression = 1 }, "&frag=700&ping=1")
  echo_case("permessage-deflate; server_no_context_takeover; client_no_context_takeover", { compression = 2 },
    "&frag=1")
end)

test("fragmented compressed messages from Python websockets (every fragment sync-flushed)", function()
  for _, mode in ipairs { 1, 2 } do
    local c = assert(websocket.connect("ws://" .. PY .. "/fragmented?count=20&frags=7&size=3000", { compression = mode }))
    local ch = c:channel()
    for i = 1, 20 do
      local m, ok = recv(ch)
      assert(ok, "channel closed at message " .. i)
      assert(#m.data == 21000 and m.type == "text", "message " .. i .. ": " .. #m.data .. " bytes")
      assert(m.data:sub(1, 9 + #tostring(i)) == '{"seq":' .. i .. ',"', "message " .. i .. " starts " .. m.data:sub(1, 20))
    end
    c:close()
  end
end)

local function must_fail(answer, mode, needle)
  local id = uid("pmd-bad")
  local c, err = websocket.connect(pmd_url(id, answer), { compression = mode })
  assert(c == nil, "answer accepted: " .. answer)
  assert(errors.is(err, errors.INTERNAL), "expected INTERNAL: " .. tostring(err))
  local d = err:details()
  assert(d.stage == "handshake" and d.status == 101, "details: stage " .. tostring(d.stage) .. ", status " .. tostring(d.status))
  assert(tostring(err):find(needle, 1, true), "message lacks " .. needle .. ": " .. tostring(err))
end

test("answers that fail the handshake", function()
  must_fail("permessage-deflate; x-secret=1", 1, "x-secret")
  must_fail("permessage-deflate; client_max_window_bits=13", 1, "client_max_window_bits=13")
  must_fail("permessage-deflate; server_max_window_bits=7", 1, "server_max_window_bits")
  must_fail("permessage-deflate; server_max_window_bits=16", 1, "server_max_window_bits")
  must_fail("permessage-deflate; server_max_window_bits", 1, "server_max_window_bits")
  must_fail("permessage-deflate; server_max_window_bits=010", 1, "server_max_window_bits")
  must_fail("permessage-deflate; server_no_context_takeover; server_no_context_takeover", 1, "duplicate")
  must_fail("permessage-deflate; server_no_context_takeover=1", 1, "server_no_context_takeover")
  must_fail("permessage-deflate, permessage-deflate", 1, "more than once")
  must_fail("permessage-deflate; client_no_context_takeover", 2, "server_no_context_takeover")
  must_fail("x-webkit-deflate-frame", 1, "x-webkit-deflate-frame")
  must_fail("permessage-deflate; ;", 1, "malformed")
end)

local function broken(bad, code)
  local c = assert(websocket.connect(pmd_url(uid("pmd-broken"), "permessage-deflate", "&bad=" .. bad), { compression = 1 }))
  local m, ok = recv(c:channel())
  assert(ok == false, bad .. ": a message was delivered: " .. tostring(m and m.data))
  local got = c:close_status()
  assert(got == code, bad .. ": close_status " .. tostring(got) .. ", expected " .. code)
end

test("broken compressed data: not DEFLATE → 1007, invalid UTF-8 inside → 1007, RSV1 on a continuation → 1002", function()
  broken("corrupt", 1007)
  broken("utf8", 1007)
  broken("rsv1-cont", 1002)
end)

assert(failures == 0, failures .. " of " .. count .. " permessage-deflate parameter tests failed")
print(count .. " permessage-deflate parameter tests passed")
