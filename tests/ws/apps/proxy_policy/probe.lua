-- A service that registers under the name it is given and, for every "try" message
-- (url, options), calls websocket.connect with its own scope and answers "result" with
-- {ok = true} or {ok = false, kind, retryable, message}.
local websocket = require("websocket")

local function main(name)
  assert(process.registry.register(name))
  local inbox = process.inbox()
  while true do
    local msg, ok = inbox:receive()
    if not ok then return true end
    if msg:topic() == "try" then
      local url, opts = msg:payload():data()
      local c, err = websocket.connect(url, opts)
      local result
      if c then
        c:close()
        result = { ok = true }
      else
        result = { ok = false, kind = err:kind(), retryable = err:retryable(), message = err:message() }
      end
      process.send(msg:from(), "result", result)
    end
  end
end

return { main = main }
