-- A child actor: answers every message on its inbox with the same payload, topic "echo".
local inbox = process.inbox()
while true do
  local msg, ok = inbox:receive()
  if not ok then return end
  if msg:topic() == "stop" then return "stopped" end
  process.send(msg:from(), "echo", msg:payload():data())
end
