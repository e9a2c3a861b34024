-- A subscriber actor: receives the ticks of one symbol, checks their order, returns the count.
local logger = require("logger")

local function main(symbol)
  local inbox = process.inbox()
  local last, n = 0, 0
  while true do
    local m = inbox:receive()
    if m:topic() == "done" then break end
    local tick = m:payload():data()
    assert(tick.symbol == symbol, "got a tick for " .. tick.symbol)
    assert(tick.seq > last, "ticks out of order")
    last, n = tick.seq, n + 1
  end
  logger:info("subscriber done", { symbol = symbol, ticks = n })
  return n
end

return { main = main }
