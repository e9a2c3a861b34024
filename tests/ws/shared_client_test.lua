-- args: {py} {node}
-- timeout: 180
-- Many coroutines sharing one client: concurrent senders keep their own order and never
-- interleave frames of different messages; concurrent receivers each get distinct messages and
-- together all of them; closing from one coroutine wakes a receiver blocked in another.
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
  local r = channel.select { ch:case_receive(), time.after(timeout or "10s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local function join(done, n, timeout)
  for _ = 1, n do
    local v = recv(done, timeout or "60s")
    if v ~= true then error(tostring(v), 0) end
  end
end

local function spawn(done, fn, ...)
  local args = table.pack(...)
  coroutine.spawn(function()
    local ok, err = pcall(fn, table.unpack(args, 1, args.n))
    done:send(ok or err)
  end)
end

test("10 senders x 100 messages: each sender's order kept, nothing lost", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local done = channel.new(10)
  for s = 1, 10 do
    spawn(done, function()
      for i = 1, 100 do
        assert(c:send(s .. ":" .. i))
        if i % 10 == 0 then time.sleep("1ms") end
      end
    end)
  end
  local next_of = {}
  for s = 1, 10 do next_of[s] = 1 end
  local ch = c:channel()
  for _ = 1, 1000 do
    local m, ok = recv(ch)
    assert(ok, "channel closed")
    local s, i = m.data:match("^(%d+):(%d+)$")
    s, i = tonumber(s), tonumber(i)
    assert(i == next_of[s], "sender " .. s .. ": got " .. i .. ", expected " .. next_of[s])
    next_of[s] = i + 1
  end
  join(done, 10)
  c:close()
end)

test("large messages from 5 coroutines at once are never interleaved", function()
  local c = assert(websocket.connect("ws://" .. NODE .. "/echo"))
  local done = channel.new(5)
  local letters = { "a", "b", "c", "d", "e" }
  for k = 1, 5 do
    spawn(done, function()
      for _ = 1, 10 do assert(c:send(string.rep(letters[k], 200000), websocket.BINARY)) end
    end)
  end
  local per = {}
  local ch = c:channel()
  for _ = 1, 50 do
    local m, ok = recv(ch, "30s")
    assert(ok and #m.data == 200000, "a 200000-byte message came back as " .. (m and #m.data or 0))
    local l = m.data:sub(1, 1)
    assert(m.data == string.rep(l, 200000), "message starting with " .. l .. " is mixed")
    per[l] = (per[l] or 0) + 1
  end
  for _, l in ipairs(letters) do assert(per[l] == 10, l .. ": " .. tostring(per[l])) end
  join(done, 5)
  c:close()
end)

test("4 receivers on one channel share 1000 messages without duplicates", function()
  local c = assert(websocket.connect("ws://" .. NODE .. "/flood?n=1000&size=20"))
  local ch = c:channel()
  -- each receiver keeps its own list: the fairness hook may preempt a coroutine between the
  -- read and the write of a shared counter, so nothing shared is updated in place
  local tallies = channel.new(4)
  for _ = 1, 4 do
    coroutine.spawn(function()
      local mine = {}
      local ok, err = pcall(function()
        while true do
          local m, open = recv(ch)
          if not open then return end
          mine[#mine + 1] = tonumber(m.data:sub(1, 10))
        end
      end)
      tallies:send(ok and mine or err)
    end)
  end
  local seen, total = {}, 0
  for _ = 1, 4 do
    local mine = recv(tallies, "60s")
    assert(type(mine) == "table", tostring(mine))
    for _, i in ipairs(mine) do
      assert(not seen[i], "message " .. i .. " delivered twice")
      seen[i] = true
      total = total + 1
    end
  end
  assert(total == 1000, total .. " messages received")
  for i = 1, 1000 do assert(seen[i], "message " .. i .. " missing") end
end)

test("close() in one coroutine wakes a receiver blocked in another", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo"))
  local done = channel.new(1)
  spawn(done, function()
    local m, ok = c:channel():receive()
    assert(m == nil and ok == false, "expected the closed channel")
  end)
  time.sleep("100ms")
  assert(c:close())
  join(done, 1, "5s")
end)

assert(failures == 0, failures .. " of " .. count .. " shared-client tests failed")
print(count .. " shared-client tests passed")
