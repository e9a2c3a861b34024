-- args: {py} {node}
-- timeout: 300
-- permessage-deflate under load: 600 messages of varied sizes (0 B to 600 KB: JSON-like
-- text, multi-byte UTF-8, random and repetitive binary, every length-encoding boundary) echoed
-- by Python websockets and Node ws, in both modes, with the default threshold and with 0;
-- sending and receiving at once, so the write queue, back-pressure and both compression
-- contexts run together. Every message must come back identical, in order, with its type.
local websocket = require("websocket")
local time = require("time")
local PY, NODE = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "20s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  assert(r.ok, "channel closed while waiting for a message")
  return r.value
end

-- deterministic pseudo-random numbers (the same messages on every run)
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local function random_bytes(n)
  local fmt = "<" .. string.rep("I4", 256)
  local chunks, vals = {}, {}
  for c = 1, (n + 1023) // 1024 do
    for i = 1, 256 do vals[i] = rnd(2147483647) * 2 % 4294967296 + rnd(2) end
    chunks[c] = string.pack(fmt, table.unpack(vals))
  end
  return table.concat(chunks):sub(1, n)
end

local function json_text(n, i)
  local parts, len = {}, 0
  while len < n do
    local s = string.format('{"seq":%d,"sym":"%s","px":%d.%02d,"qty":%d,"side":"%s"},', i + #parts,
      ({ "BTC-USD", "ETH-USD", "SOL-USD" })[rnd(3) + 1], 1000 + rnd(90000), rnd(100), rnd(5000),
      rnd(2) == 0 and "buy" or "sell")
    parts[#parts + 1] = s
    len = len + #s
  end
  return table.concat(parts):sub(1, n)
end

local function utf8_text(n)
  local unit = "héllo wörld ✓ 漢字 — ünïcödé "
  local s = string.rep(unit, n // #unit + 1)
  -- cut at a code point boundary at or before n
  local cut = n
  while cut > 0 and (s:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return s:sub(1, cut)
end

local BOUNDARIES = { 0, 1, 125, 126, 127, 128, 129, 4095, 4096, 4097, 65535, 65536, 65537 }

local function make_messages(n)
  local msgs = {}
  for i = 1, n do
    local size
    if i <= #BOUNDARIES then size = BOUNDARIES[i]
    elseif i % 100 == 0 then size = 100000 + rnd(500000)
    elseif i % 10 == 0 then size = 4096 + rnd(60000)
    else size = rnd(2000) end
    local kind = i % 4
    if kind == 0 then msgs[i] = { json_text(size, i), websocket.TEXT }
    elseif kind == 1 then msgs[i] = { random_bytes(size), websocket.BINARY }
    elseif kind == 2 then msgs[i] = { utf8_text(size), websocket.TEXT }
    else msgs[i] = { string.rep(string.char(i % 256), size), websocket.BINARY } end
  end
  return msgs
end

local MSGS = make_messages(600)

local function echo_all(url, opts)
  local c, err = websocket.connect(url, opts)
  assert(c, url .. ": " .. tostring(err))
  local done = channel.new(1)
  coroutine.spawn(function()
    local ok, e = pcall(function()
      for _, m in ipairs(MSGS) do assert(c:send(m[1], m[2])) end
    end)
    done:send(ok or e)
  end)
  local ch = c:channel()
  for i, m in ipairs(MSGS) do
    local got = recv(ch, "30s")
    if got.data ~= m[1] then
      error(string.format("message %d (%d bytes) came back as %d bytes, different", i, #m[1], #got.data))
    end
    local want = m[2] == websocket.BINARY and "binary" or "text"
    assert(got.type == want, "message " .. i .. " came back as " .. got.type)
  end
  local r = recv(done, "30s")
  assert(r == true, "sender failed: " .. tostring(r))
  assert(c:close())
  local code = c:close_status()
  assert(code == 1000, "close_status " .. tostring(code))
end

for _, peer in ipairs { { "python websockets", PY }, { "node ws", NODE } } do
  for _, mode in ipairs { "context_takeover", "no_context" } do
    test(peer[1] .. ", " .. mode, function()
      echo_all("ws://" .. peer[2] .. "/echo", { compression = mode })
    end)
    test(peer[1] .. ", " .. mode .. ", compression_threshold = 0, small channel", function()
      echo_all("ws://" .. peer[2] .. "/echo", { compression = mode, compression_threshold = 0, channel_capacity = 4 })
    end)
  end
end

assert(failures == 0, failures .. " of " .. count .. " compressed echo tests failed")
print(count .. " compressed echo tests passed")
