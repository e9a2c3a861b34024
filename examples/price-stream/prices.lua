-- examples/price-stream/prices.lua — the seed's "Price Stream with Keep-Alive" program
-- (seed/websocket.md), run against the price feed this example ships
-- (examples/price-stream/server.py).
--
--   wisp exec examples/price-stream/prices.lua [URL] [HEARTBEAT] [UPDATES]
--   (defaults: ws://127.0.0.1:8766/prices, 1s, 100)
--
-- Subscribes to BTC-USD and ETH-USD, prints every price update, and pings the server whenever
-- HEARTBEAT passes (the seed uses 30s; a shorter one shows the keep-alive in a short run).
-- Stops after UPDATES updates, or when the server closes, and prints a summary.
local websocket = require("websocket")
local json = require("json")
local time = require("time")

local url, heartbeat_every, max_updates = ...
url = url or "ws://127.0.0.1:8766/prices"
heartbeat_every = heartbeat_every or "1s"
max_updates = math.tointeger(tonumber(max_updates or "100"))
if not max_updates or max_updates < 1 then
    return nil, errors.new({message = "UPDATES must be a positive whole number", kind = errors.INVALID})
end

local prices, updates, pings_seen = {}, 0, 0

local function update_price(symbol, value)
    prices[symbol] = value
    updates = updates + 1
    print(string.format("%-8s %12.2f", symbol, value))
end

local client, err = websocket.connect(url)
if err then
    return nil, err
end

client:send(json.encode({
    action = "subscribe",
    symbols = {"BTC-USD", "ETH-USD"}
}))

local ch = client:channel()
local heartbeat = time.after(heartbeat_every)

while updates < max_updates do
    local r = channel.select {
        ch:case_receive(),
        heartbeat:case_receive()
    }

    if r.channel == heartbeat then
        client:ping()
        print("heartbeat: ping sent")
        heartbeat = time.after(heartbeat_every)
    elseif not r.ok then
        break  -- Connection closed
    else
        local price = json.decode(r.value.data)
        pings_seen = price.pings
        update_price(price.symbol, price.value)
    end
end

client:close()

local symbols = {}
for symbol in pairs(prices) do symbols[#symbols + 1] = symbol end
table.sort(symbols)
for _, symbol in ipairs(symbols) do
    print(string.format("last %-8s %12.2f", symbol, prices[symbol]))
end
print(string.format("received %d updates; the server has seen %d of our pings", updates, pings_seen))
