-- args: {py} {node} {raw}
-- timeout: 180
-- permessage-deflate: both modes negotiate what they promise, messages of every kind survive
-- compression both ways with two servers, compression_threshold decides which messages go out
-- compressed, and a server's client_no_context_takeover is honoured (the raw server inflates
-- every message on its own and reports any that does not).
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local PY, NODE, RAW = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function connect(url, opts)
  local c, err = websocket.connect(url, opts)
  assert(c, "connect " .. url .. " failed: " .. tostring(err))
  return c
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "10s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  assert(r.ok, "channel closed while waiting for a message; close_status " .. tostring(r.value))
  return r.value
end

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function random_bytes(n, seed)
  local x = seed
  local fmt = "<" .. string.rep("I4", 256)
  local chunks, vals = {}, {}
  for c = 1, (n + 1023) // 1024 do
    for i = 1, 256 do
      x = (x * 1103515245 + 12345) % 4294967296
      vals[i] = x
    end
    chunks[c] = string.pack(fmt, table.unpack(vals))
  end
  return table.concat(chunks):sub(1, n)
end

local function roundtrips(c)
  local ch = c:channel()
  local msgs = {
    { string.rep("compress me, please. ", 50000), websocket.TEXT },
    { random_bytes(300000, 99), websocket.BINARY },
    { "", websocket.TEXT },
    { "tiny", websocket.TEXT },
  }
  for i = 1, 200 do msgs[#msgs + 1] = { "small message number " .. i .. " " .. string.rep("ab", i), websocket.TEXT } end
  for _, m in ipairs(msgs) do assert(c:send(m[1], m[2])) end
  for i, m in ipairs(msgs) do
    local got = recv(ch, "20s")
    assert(got.data == m[1], "message " .. i .. " came back different (" .. #got.data .. " bytes, sent " .. #m[1] .. ")")
    assert(got.type == (m[2] == websocket.BINARY and "binary" or "text"), "message " .. i .. " type " .. got.type)
  end
end

local function negotiated(mode)
  local c = connect("ws://" .. PY .. "/extensions", { compression = mode })
  local r = json.decode(recv(c:channel()).data)
  return c, r.extensions
end

test("context_takeover negotiates permessage-deflate keeping both windows", function()
  local c, ext = negotiated(websocket.COMPRESSION.CONTEXT_TAKEOVER)
  assert(#ext == 1 and ext[1].name == "permessage-deflate", "extensions: " .. json.encode(ext))
  assert(ext[1].client_no_context_takeover == false and ext[1].server_no_context_takeover == false, json.encode(ext))
  roundtrips(c)
  c:close()
end)

test("no_context negotiates no context takeover either way", function()
  local c, ext = negotiated("no_context")
  assert(#ext == 1 and ext[1].name == "permessage-deflate", "extensions: " .. json.encode(ext))
  assert(ext[1].client_no_context_takeover == true and ext[1].server_no_context_takeover == true, json.encode(ext))
  roundtrips(c)
  c:close()
end)

test("disabled negotiates nothing", function()
  local c, ext = negotiated(websocket.COMPRESSION.DISABLED)
  assert(#ext == 0, "extensions: " .. json.encode(ext))
  c:close()
end)

test("node ws: both modes round-trip", function()
  for _, mode in ipairs { 1, 2 } do
    local c = connect("ws://" .. NODE .. "/echo", { compression = mode })
    roundtrips(c)
    c:close()
  end
end)

-- The raw server accepts with client_no_context_takeover, so every compressed message must
-- inflate on its own even when the client asked for context takeover.
local function threshold_case(opts, sizes)
  local id = uid("deflate")
  local c = connect("ws://" .. RAW .. "/deflate?id=" .. id, opts)
  local ch = c:channel()
  for _, n in ipairs(sizes) do
    local s = string.rep("z", n)
    assert(c:send(s))
    assert(recv(ch).data == s, "echo of " .. n .. " bytes")
  end
  c:close()
  local rc = connect("ws://" .. RAW .. "/report?id=" .. id)
  local conn = json.decode(recv(rc:channel(), "15s").data).connections[1]
  rc:close()
  for _, v in ipairs(conn.violations) do error("server-side finding: " .. v) end
  return conn.messages
end

test("compression_threshold: smaller messages go out uncompressed", function()
  local msgs = threshold_case({ compression = 1, compression_threshold = 1000 }, { 500, 999, 1000, 5000, 5000 })
  assert(#msgs == 5, #msgs .. " messages recorded")
  assert(not msgs[1].compressed and not msgs[2].compressed, "messages under the threshold were compressed")
  assert(msgs[3].compressed and msgs[4].compressed and msgs[5].compressed, "messages at or over the threshold went uncompressed")
  assert(msgs[4].len == 5000 and msgs[4].wire_len < 200, "5000 bytes of one letter took " .. msgs[4].wire_len .. " on the wire")
end)

-- threshold 0 makes every message a candidate; one that compressing would not shrink (a single
-- byte) still goes out plain (net/deflate.h: a message never grows on the wire).
test("compression_threshold = 0 compresses everything that shrinks; the default (128) does not", function()
  local msgs = threshold_case({ compression = 2, compression_threshold = 0 }, { 10, 20, 1 })
  assert(msgs[1].compressed and msgs[2].compressed, "threshold 0 must compress every message that shrinks: " .. json.encode(msgs))
  assert(not msgs[3].compressed, "a 1-byte message cannot shrink and must go out plain: " .. json.encode(msgs))
  msgs = threshold_case({ compression = 2 }, { 127, 128, 400 })
  assert(not msgs[1].compressed and msgs[2].compressed and msgs[3].compressed, "default threshold is 128: " .. json.encode(msgs))
end)

test("without compression nothing is compressed", function()
  local msgs = threshold_case({}, { 5000 })
  assert(msgs[1] and not msgs[1].compressed, "compressed without an extension")
end)

assert(failures == 0, failures .. " of " .. count .. " compression tests failed")
print(count .. " compression tests passed")
