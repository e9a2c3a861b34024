-- A child actor that sleeps long (until terminated or canceled).
local time = require("time")
local listen = ...
if listen == "events" then
  local ev = process.events()
  local e = ev:receive()
  return e.kind
end
time.sleep("1h")
