-- Sends `rounds` pings to `target` (a registered name) and waits for each pong.
local logger = require("logger")
local time = require("time")
local proto = require("proto")

local function main(target, rounds)
  rounds = tonumber(rounds) or 3
  local inbox = process.inbox()
  for i = 1, rounds do
    local ok, err = process.send(target, proto.PING, i)
    if not ok then
      return nil, err
    end
    local msg = inbox:receive()
    if msg:topic() ~= proto.PONG or msg:payload():data() ~= i then
      return nil, errors.new({ message = "unexpected reply", kind = errors.INTERNAL })
    end
    logger:info("pong", { n = i })
    time.sleep("100ms")
  end
  return true
end

return { main = main }
