-- args: {raw} {py} {refused}
-- timeout: 180
-- reconnect: after an abnormal end the client dials again with back-off and jitter; its
-- channel stays open and keeps delivering; on_open runs in a new task after every
-- (re)connect; notify = true adds "disconnected" / "reconnecting" / "reconnected" notices;
-- close() and the server's 1000 end it; max_attempts exhausted closes the channel with the
-- last failure in close_status(); bad settings are INVALID naming the option. The raw peer's
-- /session path plays one connection after another from a plan (eof, 503, close<code>, ...).
local websocket = require("websocket")
local time = require("time")
local json = require("json")
local RAW, PY, REFUSED = ...

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

local function uid(tag) return tag .. "-" .. math.random(1, 1000000000) end

local function session(id, plan, ms)
  return "ws://" .. RAW .. "/session?id=" .. id .. "&plan=" .. plan .. "&ms=" .. (ms or 150)
end

local function report(id, n)
  local c = assert(websocket.connect("ws://" .. RAW .. "/report?id=" .. id .. "&count=" .. n .. "&wait=10000"))
  local m, ok = recv(c:channel(), "15s")
  assert(ok, "no report for " .. id)
  c:close()
  return json.decode(m.data)
end

local FAST = { initial_delay = 20, max_delay = 100, jitter = 0 }

local function show(t) -- a notice for messages (json cannot encode its Error)
  local parts = {}
  for k, v in pairs(t or {}) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function with(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

test("a dropped connection is repaired; the same channel keeps delivering", function()
  local id = uid("drop")
  local c = assert(websocket.connect(session(id, "eof,eof,ok"), { reconnect = FAST }))
  local ch = c:channel()
  local seen = {}
  for i = 1, 3 do
    local m, ok = recv(ch, "10s")
    assert(ok and m.type == "text", "message " .. i .. ": " .. json.encode(m or {}))
    seen[#seen + 1] = m.data
  end
  assert(table.concat(seen, ",") == "hello 1,hello 2,hello 3", "got " .. table.concat(seen, ","))
  assert(c:channel() == ch, "channel() is still the same channel")
  assert(tostring(c):match("open%)$"), tostring(c))
  assert(c:send("after two drops"))
  assert(recv(ch).data == "after two drops")
  local s = c:stats()
  assert(s.reconnects == 2 and s.messages_in == 4, json.encode(s))
  c:close()
  assert(c:close_status() == 1000)
  local _, ok = recv(ch)
  assert(ok == false, "the channel closes after close()")
end)

test("on_open runs after every (re)connect, in its own task, and can send", function()
  local id = uid("onopen")
  local opened, tasks = 0, {}
  local c = assert(websocket.connect(session(id, "eof,rst,ok"), {
    reconnect = FAST,
    on_open = function(client)
      opened = opened + 1
      tasks[#tasks + 1] = tostring(coroutine.running())
      assert(client:send("subscribe " .. opened))
      time.sleep("10ms") -- it may block: it is a task of its own
    end,
  }))
  local ch = c:channel()
  local want = { "hello 1", "subscribe 1", "hello 2", "subscribe 2", "hello 3", "subscribe 3" }
  for i, w in ipairs(want) do
    local m = recv(ch, "10s")
    assert(m.data == w, "message " .. i .. ": " .. tostring(m.data) .. ", expected " .. w)
  end
  assert(opened == 3, "on_open ran " .. opened .. " times")
  assert(tasks[1] ~= tasks[2] and tasks[2] ~= tasks[3], "each call runs in a new task")
  c:close()
  local r = report(id, 3)
  local subs = {}
  for _, conn in ipairs(r.connections) do
    for _, f in ipairs(conn.frames) do
      if f.op == 1 then subs[#subs + 1] = conn.session.n .. ":" .. f.text end
    end
  end
  assert(table.concat(subs, ",") == "1:subscribe 1,2:subscribe 2,3:subscribe 3", "server saw " .. table.concat(subs, ","))
end)

test("notify = true: disconnected, reconnecting (with the failure), reconnected", function()
  local id = uid("notify")
  local c = assert(websocket.connect(session(id, "eof,503,ok"), { reconnect = with(FAST, { notify = true }) }))
  local ch = c:channel()
  local got = {}
  for _ = 1, 6 do
    local m = recv(ch, "10s")
    got[#got + 1] = m
  end
  assert(got[1].type == "text" and got[1].data == "hello 1")
  local d = got[2]
  assert(d.type == "disconnected" and d.code == 1006 and d.reason == "" and d.message:match("without a close frame"),
    "disconnected notice: " .. show(d))
  assert(got[3].type == "reconnecting" and got[3].attempt == 1 and got[3].error == nil and got[3].delay == 20,
    "first attempt: " .. show(got[3]))
  local r2 = got[4]
  assert(r2.type == "reconnecting" and r2.attempt == 2 and r2.delay == 40, "second attempt: " .. show(r2))
  assert(errors.is(r2.error, errors.INTERNAL) and r2.error:details().status == 503, "the 503 travels with it: " .. tostring(r2.error))
  assert(got[5].type == "reconnected" and got[5].attempt == 2, show(got[5]))
  assert(got[6].data == "hello 3")
  c:close()
  local _, ok = recv(ch)
  assert(ok == false, "nothing after")
end)

test("without notify the channel only carries messages (loops written for the seed work)", function()
  local id = uid("quiet")
  local c = assert(websocket.connect(session(id, "close1001,503,ok"), { reconnect = FAST }))
  local ch = c:channel()
  local n = 0
  for m in function() local v, ok = recv(ch, "10s"); if ok then return v end end do
    assert(m.type == "text" or m.type == "binary", "only messages: " .. json.encode(m))
    n = n + 1
    if m.data == "hello 3" then break end
  end
  assert(n == 2, n .. " messages")
  c:close()
end)

test("the server's 1000 ends the connection for good; 1001 and 1011 are reconnected", function()
  local id = uid("normal")
  local c = assert(websocket.connect(session(id, "close1000", 100), { reconnect = FAST }))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  local _, ok = recv(ch, "5s")
  assert(ok == false, "the channel closes")
  assert(c:close_status() == 1000)
  assert(c:stats().reconnects == 0)
  for _, code in ipairs { 1001, 1011, 4000 } do
    local id2 = uid("c" .. code)
    local c2 = assert(websocket.connect(session(id2, "close" .. code .. ",ok", 100), { reconnect = FAST }))
    assert(recv(c2:channel()).data == "hello 1")
    assert(recv(c2:channel(), "5s").data == "hello 2", code .. " is reconnected")
    c2:close()
  end
end)

test("close() during the back-off stops reconnecting", function()
  local id = uid("stop")
  local c = assert(websocket.connect(session(id, "eof", 50),
    { reconnect = { initial_delay = "400ms", max_delay = "1s", jitter = 0 } }))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  time.sleep("150ms") -- dropped, now waiting 400 ms
  assert(tostring(c):match("reconnecting%)$"), tostring(c))
  local ok, err = c:send("into the void")
  assert(ok == nil and errors.is(err, errors.UNAVAILABLE) and err:retryable(), "send while reconnecting: " .. tostring(err))
  assert(c:ping() == nil)
  assert(c:close_status() == nil, "not over while reconnecting")
  assert(c:close() == true)
  local _, more = recv(ch)
  assert(more == false, "the channel closes")
  assert(c:close_status() == 1006, "the drop's code stays")
  time.sleep("600ms")
  local r = report(id, 1)
  assert(#r.connections == 1, #r.connections .. " connections: reconnecting went on after close()")
end)

test("the back-off grows by factor, up to max_delay, with jitter inside its bounds", function()
  local id = uid("backoff")
  local t0 = time.now()
  local c = assert(websocket.connect(session(id, "eof,503,503,503,ok", 10), {
    reconnect = { initial_delay = 100, max_delay = 250, factor = 2, jitter = 0.1, notify = true } }))
  local delays = {}
  while true do
    local m = recv(c:channel(), "10s")
    if m.type == "reconnecting" then delays[#delays + 1] = m.delay end
    if m.type == "reconnected" then break end
  end
  local ms = time.now():sub(t0):milliseconds()
  assert(#delays == 4, #delays .. " attempts")
  local want = { 100, 200, 250, 250 }
  for i, d in ipairs(delays) do
    assert(d >= want[i] * 0.9 - 1 and d <= want[i] * 1.1 + 1, "attempt " .. i .. " waited " .. d .. " ms, expected " .. want[i] .. " +-10%")
  end
  assert(ms >= 700, "reconnected after " .. ms .. " ms, the back-off adds up to about 800")
  c:close()
end)

test("max_attempts exhausted: the channel closes, close_status() has the last failure", function()
  local id = uid("giveup")
  local c = assert(websocket.connect(session(id, "eof,503"), { reconnect = with(FAST, { max_attempts = 3 }) }))
  local ch = c:channel()
  assert(recv(ch).data == "hello 1")
  local _, ok = recv(ch, "10s")
  assert(ok == false, "the channel closes")
  local code, reason, err = c:close_status()
  assert(code == 1006, "code " .. tostring(code))
  assert(reason:match("503"), "reason: " .. tostring(reason))
  assert(errors.is(err, errors.INTERNAL) and err:details().status == 503 and err:details().stage == "handshake",
    "the last failure: " .. tostring(err))
  assert(tostring(c):match("closed%)$"))
  local r = report(id, 4)
  assert(#r.connections == 4, #r.connections .. " connections: one, then three attempts")
end)

test("a failure a retry cannot fix ends reconnecting at once", function()
  -- after the first connection, the server redirects into a loop: too many redirects is final
  local id = uid("final")
  local c = assert(websocket.connect(session(id, "eof,redirect-loop", 50),
    { reconnect = FAST, follow_redirects = 2 }))
  assert(recv(c:channel()).data == "hello 1")
  local _, ok = recv(c:channel(), "10s")
  assert(ok == false, "the channel closes")
  local code, reason, err = c:close_status()
  assert(code == 1006 and err and not err:retryable(), "last failure " .. tostring(err))
  assert(reason:match("too many redirects"), reason)
  assert(err:details().redirects == 2 and err:details().status == 302, json.encode(err:details()))
  local r = report(id, 2)
  assert(#r.connections == 2, #r.connections .. " session connections: no attempt after a final failure")
end)

test("a server that keeps refusing the upgrade is retried until max_attempts", function()
  local c = assert(websocket.connect(session(uid("ref"), "eof,hs-eof", 50), { reconnect = with(FAST, { max_attempts = 2 }) }))
  assert(recv(c:channel()).data == "hello 1")
  local _, ok = recv(c:channel(), "10s")
  assert(ok == false)
  local code, _, err = c:close_status()
  assert(code == 1006 and err and err:retryable() and err:details().stage == "handshake", "last failure " .. tostring(err))
end)

test("reconnect keeps the options: subprotocol, headers, compression", function()
  local id = uid("opts")
  local c = assert(websocket.connect(session(id, "eof,ok"), {
    reconnect = FAST, headers = { ["X-Token"] = "abc" }, protocols = { "p1" } }))
  assert(recv(c:channel()).data == "hello 1")
  assert(recv(c:channel(), "5s").data == "hello 2")
  c:close()
  local r = report(id, 2)
  for _, conn in ipairs(r.connections) do
    local h = {}
    for _, kv in ipairs(conn.headers) do h[kv[1]:lower()] = kv[2] end
    assert(h["x-token"] == "abc" and h["sec-websocket-protocol"] == "p1", "connection " .. conn.session.n .. ": " .. json.encode(h))
  end
end)

test("messages left in the channel count against channel_capacity across a reconnect", function()
  local id = uid("cap")
  local c = assert(websocket.connect(session(id, "eof,ok"), { reconnect = FAST, channel_capacity = 2 }))
  time.sleep("500ms") -- hello 1 (old connection), then hello 2 (new one)
  local ch = c:channel()
  assert(#ch == 2, #ch .. " messages held")
  assert(recv(ch).data == "hello 1" and recv(ch).data == "hello 2")
  assert(c:send("x"))
  assert(recv(ch).data == "x")
  c:close()
end)

test("reconnect and on_open options are checked", function()
  local function invalid(opts, needle)
    local c, err = websocket.connect("ws://" .. PY .. "/echo", opts)
    assert(c == nil and errors.is(err, errors.INVALID), "expected INVALID for " .. needle .. ", got " .. tostring(err))
    assert(err:message():find(needle, 1, true), "message names " .. needle .. ": " .. err:message())
  end
  invalid({ reconnect = { initial_delay = -1 } }, "reconnect.initial_delay")
  invalid({ reconnect = { max_delay = "-1s" } }, "reconnect.max_delay")
  invalid({ reconnect = { max_delay = "soon" } }, "reconnect.max_delay")
  invalid({ reconnect = { factor = 0.5 } }, "reconnect.factor")
  invalid({ reconnect = { factor = "2" } }, "reconnect.factor")
  invalid({ reconnect = { jitter = 1.5 } }, "reconnect.jitter")
  invalid({ reconnect = { jitter = -0.1 } }, "reconnect.jitter")
  invalid({ reconnect = { max_attempts = -1 } }, "reconnect.max_attempts")
  invalid({ reconnect = { max_attempts = 2.5 } }, "reconnect.max_attempts")
  invalid({ reconnect = { notify = "yes" } }, "reconnect.notify")
  invalid({ reconnect = { initial_delay = "2s", max_delay = "1s" } }, "reconnect.initial_delay")
  invalid({ reconnect = { retries = 3 } }, "unknown reconnect option")
  invalid({ reconnect = "yes" }, "reconnect must be")
  invalid({ on_open = "function" }, "on_open must be a function")
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { reconnect = true }))
  c:close()
  c = assert(websocket.connect("ws://" .. PY .. "/echo", { reconnect = false }))
  c:close()
  c = assert(websocket.connect("ws://" .. PY .. "/echo",
    { reconnect = { initial_delay = 0, max_delay = 0, factor = 1, jitter = 1, max_attempts = 0 } }))
  c:close()
end)

test("the first connect is not retried: its failure is connect()'s error", function()
  local c, err = websocket.connect("ws://" .. REFUSED .. "/", { reconnect = FAST })
  assert(c == nil and errors.is(err, errors.INTERNAL) and err:details().stage == "tcp", tostring(err))
end)

assert(failures == 0, failures .. " of " .. count .. " reconnect tests failed")
print(count .. " reconnect tests passed")
