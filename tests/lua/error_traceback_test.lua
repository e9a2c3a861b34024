-- expect-exit: 1
-- expect-stderr: error_traceback_test.lua:9: boom
-- expect-stderr: stack traceback:
-- expect-stderr: 'inner'
-- An uncaught error fails the actor; wisp exec prints it with file, line and traceback.
local function inner()
  local x = 1
  if x == 1 then
    error("boom")
  end
end
local function outer() inner() end
outer()
