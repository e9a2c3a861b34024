-- Registers as "app.ponger" and answers every "ping" with a "pong" carrying the same payload.
local logger = require("logger")
local proto = require("proto")

local function main()
  local ok, err = process.registry.register(proto.PONGER)
  if not ok then
    return nil, err
  end
  local inbox = process.inbox()
  while true do
    local msg, open = inbox:receive()
    if not open then
      return true
    end
    if msg:topic() == proto.PING then
      local n = msg:payload():data()
      logger:info("ping", { n = n })
      process.send(msg:from(), proto.PONG, n)
    end
  end
end

return { main = main }
