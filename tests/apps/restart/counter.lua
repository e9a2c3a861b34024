-- Counts "started" messages and answers each with the count so far.
local function main()
  assert(process.registry.register("counter"))
  local n = 0
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    n = n + 1
    process.send(msg:from(), "count", n)
  end
end
return { main = main }
