-- examples/demo.lua — a tour of one actor: coroutines, channels, select and timers.
-- Run it with:  build/wisp exec examples/demo.lua
local time = require("time")
local json = require("json")

print("actor " .. process.pid() .. " starting")

-- A producer coroutine feeds a buffered channel, then closes it.
local prices = channel.new(8)
coroutine.spawn(function()
  local symbols = { "BTC-USD", "ETH-USD", "SOL-USD" }
  for i = 1, 9 do
    prices:send({ symbol = symbols[(i - 1) % 3 + 1], value = 100 + i * 1.5 })
    time.sleep("20ms")
  end
  prices:close()
end)

-- A ticker reports progress while we consume; a deadline bounds the whole run.
local ticker = time.ticker("50ms")
local deadline = time.after("5s")
local received, ticks = 0, 0

while true do
  local r = channel.select {
    prices:case_receive(),
    ticker:channel():case_receive(),
    deadline:case_receive(),
  }
  if r.channel == prices then
    if not r.ok then break end -- producer closed the channel
    received = received + 1
    print("price  " .. json.encode(r.value))
  elseif r.channel == deadline then
    print("deadline reached")
    break
  else
    ticks = ticks + 1
    print(string.format("tick   %s (%d prices so far)", r.value:format_rfc3339(), received))
  end
end
ticker:stop()

-- Fan-out / fan-in: workers square numbers concurrently.
local jobs, results = channel.new(), channel.new()
for w = 1, 3 do
  coroutine.spawn(function()
    while true do
      local n, ok = jobs:receive()
      if not ok then return end
      time.sleep(5 * time.MILLISECOND)
      results:send({ worker = w, n = n, square = n * n })
    end
  end)
end
coroutine.spawn(function()
  for n = 1, 6 do jobs:send(n) end
  jobs:close()
end)
local sum = 0
for _ = 1, 6 do sum = sum + results:receive().square end

print(string.format("done: %d prices, %d ticks, sum of squares %d", received, ticks, sum))
