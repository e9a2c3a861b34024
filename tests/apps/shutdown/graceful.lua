-- Waits for CANCEL, logs it and returns normally.
local logger = require("logger")
local function main(name)
  local events = process.events()
  logger:info("ready", { name = name })
  while true do
    local ev = events:receive()
    if ev.kind == process.event.CANCEL then
      logger:info("cancelled", { name = name })
      return true
    end
  end
end
return { main = main }
