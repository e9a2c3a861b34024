-- examples/feed-fanout/feed.lua — one connection actor fans a WebSocket feed out to subscriber
-- actors with process.send: each subscriber gets the ticks of its symbol, in order.
local websocket = require("websocket")
local json = require("json")
local logger = require("logger")

local SYMBOLS = { "BTC-USD", "ETH-USD", "SOL-USD" }

local function main(url, count)
  count = tonumber(count) or 30
  -- one subscriber actor per symbol, monitored so we hear their results
  local events = process.events()
  local by_symbol = {}
  for _, sym in ipairs(SYMBOLS) do
    by_symbol[sym] = assert(process.spawn_monitored("app:subscriber", nil, sym))
  end

  local client = assert(websocket.connect(url, { dial_timeout = "5s" }))
  client:send(json.encode({ symbols = SYMBOLS, count = count }))
  local forwarded = 0
  for msg in function() local m, ok = client:channel():receive() if ok then return m end end do
    local tick = json.decode(msg.data)
    assert(process.send(by_symbol[tick.symbol], "tick", tick))
    forwarded = forwarded + 1
  end
  logger:info("feed ended", { forwarded = forwarded, close = client:close_status() })
  for _, pid in pairs(by_symbol) do process.send(pid, "done") end

  local total = 0
  for _ = 1, #SYMBOLS do
    local ev = events:receive()
    assert(ev.kind == process.event.EXIT and not ev.result.error, tostring(ev.result.error))
    total = total + ev.result.value
  end
  print(string.format("fan-out complete: %d ticks forwarded, %d received by %d subscribers",
                      forwarded, total, #SYMBOLS))
  return total == forwarded
end

return { main = main }
