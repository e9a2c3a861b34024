-- bench/lua/ws_conn_actor.lua — one connection held by its own actor (ws_client.lua
-- conns_actors): connect, take K messages, report "up" to the parent, then wait on the inbox
-- until the process is killed. A failure is reported as "fail" (or "unavailable" when the
-- server got no permessage-deflate offer) instead of raising, so the parent never waits in vain.
local websocket = require("websocket")
local parent, url, k, compression = ...
k = math.tointeger(tonumber(k))
local opts = {}
if compression ~= "-" then opts.compression = compression end
local c, err = websocket.connect(url, opts)
if not c then
  process.send(parent, "fail", tostring(err))
  return
end
local ch = c:channel()
for _ = 1, k do
  local _, ok = ch:receive()
  if not ok then
    local code, reason = c:close_status()
    if code == 4000 then
      process.send(parent, "unavailable", "permessage-deflate not negotiated")
    else
      process.send(parent, "fail", "connection ended before its messages: " .. tostring(code) .. " " .. tostring(reason))
    end
    return
  end
end
process.send(parent, "up")
process.inbox():receive()
