-- examples/graphql-subscription/subscribe.lua — a GraphQL subscription over WebSocket with the
-- graphql-transport-ws protocol: connection_init / connection_ack, subscribe, next... complete.
local websocket = require("websocket")
local json = require("json")
local time = require("time")

local function main(url, n)
  n = tonumber(n) or 5
  local client, err = websocket.connect(url, { protocols = { "graphql-transport-ws" }, dial_timeout = "5s" })
  if not client then return nil, err end
  assert(client:protocol() == "graphql-transport-ws", "the server did not select graphql-transport-ws")
  local ch = client:channel()

  -- receive one protocol message, or fail after a timeout
  local function next_message(timeout)
    local r = channel.select { ch:case_receive(), time.after(timeout):case_receive() }
    if r.channel ~= ch then return nil, errors.new { message = "timed out", kind = errors.TIMEOUT } end
    if not r.ok then return nil, errors.new { message = "connection closed", kind = errors.UNAVAILABLE } end
    return json.decode(r.value.data)
  end

  client:send(json.encode({ type = "connection_init", payload = {} }))
  local ack = assert(next_message("5s"))
  assert(ack.type == "connection_ack", "expected connection_ack, got " .. tostring(ack.type))

  client:send(json.encode({
    id = "1", type = "subscribe",
    payload = { query = "subscription { ticks(n: " .. n .. ") { n at } }" },
  }))
  local got = 0
  while true do
    local msg = assert(next_message("5s"))
    if msg.type == "next" then
      got = got + 1
      print(string.format("tick %d at %.3f", msg.payload.data.ticks.n, msg.payload.data.ticks.at))
    elseif msg.type == "complete" then
      break
    elseif msg.type == "error" then
      return nil, errors.new { message = json.encode(msg.payload), kind = errors.INTERNAL }
    end
  end
  client:close()
  print(string.format("subscription complete: %d ticks", got))
  return got == n
end

return { main = main }
