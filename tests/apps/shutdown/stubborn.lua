-- Listens for events but ignores CANCEL: it is terminated after shutdown_timeout.
local logger = require("logger")
local time = require("time")
local function main()
  local events = process.events()
  logger:info("ready", { name = "stubborn" })
  while true do time.sleep("1h") end
end
return { main = main }
