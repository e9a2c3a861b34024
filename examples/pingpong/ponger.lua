-- Registers as "ponger" and answers every ping with a pong carrying the same number.
local logger = require("logger")

local function main()
  assert(process.registry.register("ponger"))
  local inbox = process.inbox()
  local events = process.events()
  while true do
    local r = channel.select { inbox:case_receive(), events:case_receive() }
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then
        logger:info("ponger stopping")
        return true
      end
    else
      local n = r.value:payload():data()
      logger:info("ping", { n = n, from = r.value:from() })
      process.send(r.value:from(), "pong", n)
    end
  end
end

return { main = main }
