-- The errors module: kinds, new, wrap, is, methods, and error objects through pcall/error.
local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("kinds have the SPEC values", function()
  assert(errors.UNKNOWN == "" and errors.INVALID == "Invalid" and errors.NOT_FOUND == "NotFound")
  assert(errors.ALREADY_EXISTS == "AlreadyExists" and errors.PERMISSION_DENIED == "PermissionDenied")
  assert(errors.TIMEOUT == "Timeout" and errors.CANCELED == "Canceled" and errors.UNAVAILABLE == "Unavailable")
  assert(errors.INTERNAL == "Internal" and errors.CONFLICT == "Conflict" and errors.RATE_LIMITED == "RateLimited")
end)

test("new from a string and from a table", function()
  local e = errors.new("plain")
  assert(e:message() == "plain" and e:kind() == "" and e:retryable() == false)
  local f = errors.new { message = "busy", kind = errors.UNAVAILABLE, retryable = true, details = { retry_in = 5 } }
  assert(f:message() == "busy" and f:kind() == "Unavailable" and f:retryable() == true)
  assert(f:details().retry_in == 5)
  assert(type(f:stack()) == "string" and f:stack():find("errors_test"))
  assert(tostring(f):find("busy"))
end)

test("new rejects unknown fields and wrong types", function()
  assert(not pcall(errors.new, { message = "x", colour = "red" }))
  assert(not pcall(errors.new, { message = 42 }))
  assert(not pcall(errors.new, { message = "x", retryable = "yes" }))
end)

test("wrap keeps kind and adds context; is looks through the chain", function()
  local inner = errors.new { message = "disk full", kind = errors.INTERNAL }
  local outer = errors.wrap(inner, "saving report")
  assert(outer:message():find("saving report") and outer:message():find("disk full"))
  assert(errors.is(outer, errors.INTERNAL) and not errors.is(outer, errors.INVALID))
  local w = errors.wrap("a plain string", "context")
  assert(w:message():find("context") and w:message():find("a plain string"))
end)

test("error(err) keeps the object through pcall", function()
  local e = errors.new { message = "thrown", kind = errors.CONFLICT }
  local ok, got = pcall(error, e)
  assert(not ok and got == e and got:kind() == "Conflict")
end)

test("errors from the runtime are error objects", function()
  local time = require("time")
  local d, err = time.parse_duration("nope")
  assert(d == nil and errors.is(err, errors.INVALID) and err:retryable() == false)
end)

test("errors cross actors as values", function()
  process.send(process.pid(), "err", errors.new { message = "travels", kind = errors.TIMEOUT, retryable = true })
  local m = process.inbox():receive()
  local e = m:payload():data()
  assert(errors.is(e, errors.TIMEOUT) and e:message() == "travels" and e:retryable() == true)
end)

assert(failures == 0, failures .. " of " .. count .. " errors tests failed")
print(count .. " errors tests passed")
