local logger = require("logger")
local time = require("time")
local function main()
  for i = 1, 1000 do
    logger:info("steady tick", { n = i })
    time.sleep("50ms")
  end
end
return { main = main }
