local function main()
  local security = require("security")
  local inbox = process.inbox()
  while true do
    local m = inbox:receive()
    if m:topic() == "report" then
      local a = security.actor()
      process.send(m:payload():data(), "child", a and a.id or "none")
      return true
    end
  end
end
return { main = main }
