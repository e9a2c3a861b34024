-- bench/ws_deflate/conns.lua — Wisp's client for bench/ws_deflate_conns.py: opens COUNT
-- connections to URL from one actor (PARALLEL coroutines dialing at once), sends one 1 KiB JSON
-- message on each and waits for its echo (so both compression directions have run once), then
-- holds them all. Prints "@@base" before the first connect and "@@hold" once every connection
-- is open and echoed, each followed by a pause in which the driver reads VmRSS; then sleeps
-- until the driver kills it.
--   wisp exec bench/ws_deflate/conns.lua URL COUNT PARALLEL COMPRESSION [CA_FILE]
local websocket = require("websocket")
local time = require("time")

local url, count, parallel, compression, ca_file = ...
count, parallel = math.tointeger(tonumber(count)), math.tointeger(tonumber(parallel))

local function json_1k(i)
  local parts, len = {}, 0
  while len < 1024 do
    local s = string.format('{"seq":%d,"sym":"BTC-USD","px":%d.%02d,"qty":%d},', i * 100 + #parts,
      60000 + (i * 37 + #parts * 11) % 9000, (i + #parts) % 100, (i * 13 + #parts) % 500)
    parts[#parts + 1] = s
    len = len + #s
  end
  return table.concat(parts):sub(1, 1024)
end

print("@@base")
time.sleep("1500ms")

local clients, done = {}, channel.new(parallel)
local per = (count + parallel - 1) // parallel
for p = 1, parallel do
  coroutine.spawn(function()
    local ok, err = pcall(function()
      for i = (p - 1) * per + 1, math.min(p * per, count) do
        local c, e = websocket.connect(url, { compression = compression, dial_timeout = "60s",
                                              tls = ca_file and { ca_file = ca_file } or nil })
        if not c then error("connection " .. i .. ": " .. tostring(e)) end
        local msg = json_1k(i)
        assert(c:send(msg))
        local m = c:channel():receive()
        assert(m and m.data == msg, "connection " .. i .. ": echo differs")
        clients[i] = c
      end
    end)
    done:send(ok or err)
  end)
end
for _ = 1, parallel do
  local r = done:receive()
  if r ~= true then error(r) end
end
collectgarbage()
collectgarbage()
print("@@hold " .. #clients)
time.sleep("1h")
