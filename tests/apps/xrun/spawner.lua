-- Entry ids spawn other entries; exec returns their result.
local function main()
  local r = assert(process.exec("app:add", nil, "2", "3"))
  assert(r == true)
  local pid, err = process.spawn("app:nope")
  assert(pid == nil and errors.is(err, errors.NOT_FOUND))
  pid, err = process.spawn("file://add.lua")
  assert(pid == nil and errors.is(err, errors.INVALID), "file:// ids are for wisp exec only")
  print("spawner ok")
  return true
end
return { main = main }
