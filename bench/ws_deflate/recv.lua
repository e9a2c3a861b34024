-- bench/ws_deflate/recv.lua — Wisp's side of bench/ws_recv_modes.py: connects to URL (the
-- flooder), receives N messages and reports how fast they came, from the first message to the
-- last: "RESULT msgs=N bytes=B seconds=S". Options: COMPRESSION ("disabled", "context_takeover",
-- "no_context"), CA_FILE for wss ("-" for none) and the channel_capacity (undelivered messages
-- live in the actor's heap: 1000 x 64 KiB would exceed its default 64 MiB).
--   wisp exec bench/ws_deflate/recv.lua URL N COMPRESSION CA_FILE CAPACITY
local websocket = require("websocket")
local time = require("time")

local url, n, compression, ca, capacity = ...
n = math.tointeger(tonumber(n))
local opts = { compression = compression, channel_capacity = math.tointeger(tonumber(capacity)),
               dial_timeout = "120s" }
if ca and ca ~= "-" then opts.tls = { ca_file = ca } end
local c = assert(websocket.connect(url, opts))
local ch = c:channel()
local first = ch:receive()
local t0 = time.now()
local count, bytes = 1, #first.data
while count < n do
  local m = ch:receive()
  if not m then error("closed after " .. count .. " messages: " .. tostring(c:close_status())) end
  count = count + 1
  bytes = bytes + #m.data
end
local secs = time.now():sub(t0):milliseconds() / 1000
print(string.format("RESULT msgs=%d bytes=%d seconds=%.4f", count, bytes, secs))
c:close()
