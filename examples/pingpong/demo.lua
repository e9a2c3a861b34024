-- Lets the services talk for a moment, then ends; wisp run -x stops them and exits 0.
local time = require("time")
local function main()
  time.sleep("800ms")
  print("demo: done")
  return true
end
return { main = main }
