-- args: {py} {node}
-- timeout: 180
-- Echo of text and binary messages, from empty to several MiB, against two independent servers
-- (Python websockets and Node ws): every message comes back whole, in order, with its type.
local websocket = require("websocket")
local time = require("time")
local PY, NODE = ...

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
  assert(r.channel == ch, "timed out waiting for a message")
  assert(r.ok, "channel closed while waiting for a message")
  return r.value
end

-- Compares without printing megabytes: reports the length and the first differing byte.
local function same(got, want, what)
  if got == want then return end
  local n = math.min(#got, #want)
  local i = 1
  while i <= n and got:byte(i) == want:byte(i) do i = i + 1 end
  error(string.format("%s: got %d bytes, want %d; first difference at byte %d", what, #got, #want, i), 2)
end

-- Deterministic pseudo-random bytes (a 32-bit LCG), built 1 KiB at a time to stay small in memory.
local function random_bytes(n, seed)
  local x = seed or 12345
  local fmt = string.rep("I4", 256)
  local chunks, vals = {}, {}
  for c = 1, (n + 1023) // 1024 do
    for i = 1, 256 do
      x = (x * 1103515245 + 12345) % 4294967296
      vals[i] = x
    end
    chunks[c] = string.pack("<" .. fmt, table.unpack(vals))
  end
  return table.concat(chunks):sub(1, n)
end

local ascii = "The quick brown fox jumps over the lazy dog 0123456789. "
local function text_of(n)
  return string.rep(ascii, n // #ascii + 1):sub(1, n)
end

local function echo_suite(label, addr)
  local url = "ws://" .. addr .. "/echo"

  test(label .. ": text at every length-encoding boundary", function()
    local c = connect(url)
    local ch = c:channel()
    for _, n in ipairs { 0, 1, 125, 126, 127, 65535, 65536, 65537 } do
      local s = text_of(n)
      assert(c:send(s) == true, "send returned something else than true")
      local m = recv(ch)
      assert(m.type == "text" and m.type == websocket.TYPE_TEXT, "type " .. tostring(m.type))
      same(m.data, s, "text of " .. n .. " bytes")
    end
    c:close()
  end)

  test(label .. ": multi-byte UTF-8 text survives unchanged", function()
    local c = connect(url)
    local s = string.rep("héllo wörld € 𝄞 ✓ ", 1000)
    assert(c:send(s))
    local m = recv(c:channel())
    assert(m.type == "text")
    same(m.data, s, "utf-8 text")
    c:close()
  end)

  test(label .. ": binary with every byte value, and empty binary", function()
    local c = connect(url)
    local ch = c:channel()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local s = table.concat(all):rep(4)
    assert(c:send(s, websocket.BINARY) == true)
    local m = recv(ch)
    assert(m.type == "binary" and m.type == websocket.TYPE_BINARY, "type " .. tostring(m.type))
    same(m.data, s, "all byte values")
    assert(c:send("", websocket.BINARY))
    m = recv(ch)
    assert(m.type == "binary" and m.data == "", "empty binary")
    c:close()
  end)

  test(label .. ": 4 MiB text and 6 MiB binary", function()
    local c = connect(url)
    local ch = c:channel()
    local t = text_of(4 * 1024 * 1024)
    assert(c:send(t))
    local m = recv(ch, "30s")
    assert(m.type == "text")
    same(m.data, t, "4 MiB text")
    t, m = nil, nil
    collectgarbage()
    local b = random_bytes(6 * 1024 * 1024, 777)
    assert(c:send(b, websocket.BINARY))
    m = recv(ch, "30s")
    assert(m.type == "binary")
    same(m.data, b, "6 MiB binary")
    c:close()
  end)

  test(label .. ": a burst of mixed messages keeps order and types", function()
    local c = connect(url)
    local ch = c:channel()
    local sent = {}
    for i = 1, 60 do
      local binary = i % 3 == 0
      local data = binary and random_bytes(i * 997, i) or (i .. ":" .. text_of(i * 1013))
      sent[i] = { binary = binary, data = data }
      assert(c:send(data, binary and websocket.BINARY or websocket.TEXT))
    end
    for i = 1, 60 do
      local m = recv(ch)
      assert(m.type == (sent[i].binary and "binary" or "text"), "message " .. i .. " has type " .. m.type)
      same(m.data, sent[i].data, "message " .. i)
    end
    c:close()
  end)
end

echo_suite("python websockets", PY)
echo_suite("node ws", NODE)

assert(failures == 0, failures .. " of " .. count .. " echo tests failed")
print(count .. " echo tests passed")
