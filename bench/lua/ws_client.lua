-- bench/lua/ws_client.lua — Wisp's side of the WebSocket benchmarks (bench/suites/ws_*.py),
-- with default options unless a mode needs one (compression, tls). Modes:
--   recv URL N [CA_FILE] [COMPRESSION]   count N messages of a flood (URL has go=1: the clock
--                                        starts before "go" is sent)
--   echo URL SECONDS SIZE                sequential round trips, latency from time.now()
--   conns URL COUNT PARALLEL K [COMPRESSION]   COUNT connections held by this actor, opened by
--                                        PARALLEL coroutines; each waits for K messages
--   conns_actors URL COUNT PARALLEL K [COMPRESSION]   the same, one actor per connection
--                                        (bench/lua/ws_conn_actor.lua), at most PARALLEL dialing
-- Prints "RESULT key=value ..." for the driver; conns modes print "BASE" and "HOLD" and then
-- sleep so the driver can read the RSS, and are killed by it. A feature that is not built
-- (wss:// without TLS, a server that got no permessage-deflate offer) prints "UNAVAILABLE why"
-- and exits normally.
local websocket = require("websocket")
local time = require("time")

local mode = ...
local args = table.pack(...)

local function unavailable(why)
  print("UNAVAILABLE " .. why)
end

-- A connect error that means "not built yet" rather than "broken".
local function not_built(err)
  local m = err and err:message() or ""
  return m:find("not built", 1, true) ~= nil
end

local function options(ca_file, compression)
  local o = {}
  if ca_file and ca_file ~= "" and ca_file ~= "-" then o.tls = { ca_file = ca_file } end
  if compression and compression ~= "" and compression ~= "-" then o.compression = compression end
  return o
end

-- Whether the server refused us for want of a permessage-deflate offer (close 4000).
local function refused_pmd(client)
  local code, reason = client:close_status()
  return code == 4000, reason
end

local function recv(url, n, ca_file, compression)
  n = math.tointeger(tonumber(n))
  local client, err = websocket.connect(url, options(ca_file, compression))
  if not client then
    if not_built(err) then return unavailable(err:message()) end
    error(err)
  end
  local ch = client:channel()
  local t0 = time.now()
  local sent, serr = client:send("go", websocket.BINARY)
  if not sent then
    -- a server that refused the extension may have closed before "go" went out
    while select(2, ch:receive()) do end
    if refused_pmd(client) then return unavailable("permessage-deflate not negotiated") end
    error(serr)
  end
  local count, bytes = 0, 0
  while count < n do
    local m, ok = ch:receive()
    if not ok then
      if refused_pmd(client) then return unavailable("permessage-deflate not negotiated") end
      error(string.format("connection ended after %d of %d messages: %s", count, n,
        tostring(select(2, client:close_status()))))
    end
    count = count + 1
    bytes = bytes + #m.data
  end
  local el = time.now():sub(t0):seconds()
  client:close()
  print(string.format("RESULT msgs=%d bytes=%d seconds=%.6f", count, bytes, el))
end

local function echo(url, seconds, size)
  seconds = tonumber(seconds)
  local payload = string.rep("e", math.tointeger(tonumber(size)))
  local client = assert(websocket.connect(url))
  local ch = client:channel()
  local lat, n = {}, 0
  local t0 = time.now()
  local el
  repeat
    local s = time.now()
    assert(client:send(payload, websocket.BINARY))
    local m, ok = ch:receive()
    assert(ok and #m.data == #payload, "echo lost")
    local t = time.now()
    n = n + 1
    lat[n] = t:sub(s):seconds()
    el = t:sub(t0):seconds()
  until el >= seconds
  client:close()
  table.sort(lat)
  print(string.format("RESULT rtts=%d seconds=%.6f p50_us=%.2f p99_us=%.2f", n, el,
    lat[n // 2 + 1] * 1e6, lat[math.floor(n * 0.99) + 1] * 1e6))
end

-- Holds the connections until the driver has read the RSS and kills the process.
local function hold(t0, count)
  print(string.format("RESULT conns=%d seconds=%.6f", count, time.now():sub(t0):seconds()))
  print("HOLD")
  time.sleep("600s")
end

local function conns(url, count, parallel, k, compression)
  count, parallel, k = math.tointeger(tonumber(count)), math.tointeger(tonumber(parallel)),
    math.tointeger(tonumber(k))
  local opts = options(nil, compression)
  print("BASE")
  time.sleep("500ms")
  local clients, next_i, failure = {}, 1, nil
  local done = channel.new(parallel)
  local t0 = time.now()
  for _ = 1, parallel do
    coroutine.spawn(function()
      while next_i <= count and not failure do
        local i = next_i
        next_i = i + 1
        local c, err = websocket.connect(url, opts)
        if not c then failure = err; break end
        clients[i] = c
        local ch = c:channel()
        for _ = 1, k do
          local _, ok = ch:receive()
          if not ok then
            failure = refused_pmd(c) and "UNAVAILABLE" or "connection ended before its messages"
            break
          end
        end
      end
      done:send(true)
    end)
  end
  for _ = 1, parallel do done:receive() end
  if failure == "UNAVAILABLE" then return unavailable("permessage-deflate not negotiated") end
  if failure then error(failure) end
  hold(t0, count)
end

local function conns_actors(url, count, parallel, k, compression)
  count, parallel = math.tointeger(tonumber(count)), math.tointeger(tonumber(parallel))
  local inbox = process.inbox()
  print("BASE")
  time.sleep("500ms")
  local t0 = time.now()
  local spawned, up = 0, 0
  local function spawn_one()
    spawned = spawned + 1
    assert(process.spawn("file://ws_conn_actor.lua", nil, process.pid(), url, k, compression or "-"))
  end
  for _ = 1, math.min(parallel, count) do spawn_one() end
  while up < count do
    local m = inbox:receive()
    local topic = m:topic()
    if topic == "unavailable" then return unavailable(m:payload():data()) end
    if topic ~= "up" then error("connection actor failed: " .. tostring(m:payload():data())) end
    up = up + 1
    if spawned < count then spawn_one() end
  end
  hold(t0, count)
end

if mode == "recv" then recv(args[2], args[3], args[4], args[5])
elseif mode == "echo" then echo(args[2], args[3], args[4])
elseif mode == "conns" then conns(args[2], args[3], args[4], args[5], args[6])
elseif mode == "conns_actors" then conns_actors(args[2], args[3], args[4], args[5], args[6])
else error("usage: ws_client.lua recv|echo|conns|conns_actors ...") end
