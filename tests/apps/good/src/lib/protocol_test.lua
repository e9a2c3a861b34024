-- The protocol's names are distinct strings.
local proto = require("proto")

local function main()
  assert(type(proto.PING) == "string" and type(proto.PONG) == "string")
  assert(proto.PING ~= proto.PONG, "ping and pong must differ")
  return true
end

return { main = main }
