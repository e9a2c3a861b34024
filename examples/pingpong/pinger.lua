-- Sends `rounds` pings to the ponger, one every 100 ms, and checks each pong.
local logger = require("logger")
local time = require("time")

local function main(rounds)
  while not process.registry.lookup("ponger") do time.sleep("10ms") end
  local inbox = process.inbox()
  for i = 1, rounds do
    assert(process.send("ponger", "ping", i))
    local n = inbox:receive():payload():data()
    logger:info("pong", { n = n })
    time.sleep("100ms")
  end
  -- the policy grants messages, not spawning: this is denied
  local pid, err = process.spawn("app:demo")
  logger:info("spawn denied as expected", { error = tostring(err) })
  return true
end

return { main = main }
