local websocket = require("websocket")
local time = require("time")
local logger = require("logger")
local function main()
  -- port 1 on loopback: nothing listens there (connection refused, stage tcp)
  for i = 1, 3 do
    local c, err = websocket.connect("ws://127.0.0.1:1/", { dial_timeout = "2s" })
    logger:info("dial failed", { stage = err and err:details().stage or "none" })
  end
  time.sleep("1h")
end
return { main = main }
