-- json (jansson): encode/decode rules of SPEC.md, round trips, errors with positions.
local json = require("json")
local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

test("sequences become arrays, string keys objects, keys sorted", function()
  assert(json.encode({ 1, 2, 3 }) == "[1,2,3]")
  assert(json.encode({ b = 1, a = "x" }) == '{"a":"x","b":1}')
  assert(json.encode({}) == "[]")
  assert(json.encode({ nested = { list = { true, false } } }) == '{"nested":{"list":[true,false]}}')
end)

test("integers stay integers, floats stay floats", function()
  assert(json.encode(1) == "1" and json.encode(1.5) == "1.5")
  local v = json.decode("[1, 1.0, 2.5, -7, 9007199254740993]")
  assert(math.type(v[1]) == "integer" and math.type(v[2]) == "float" and v[3] == 2.5 and v[4] == -7)
  assert(v[5] == 9007199254740993 and math.type(v[5]) == "integer")
  local back = json.decode(json.encode(1.0))
  assert(math.type(back) == "float", json.encode(1.0))
end)

test("round trips of nested values", function()
  local v = { name = "wisp", tags = { "a", "b" }, n = 42, ok = true, inner = { x = { y = { z = "deep" } } } }
  local s = json.encode(v)
  local w = json.decode(s)
  assert(w.name == "wisp" and w.tags[2] == "b" and w.n == 42 and w.ok == true and w.inner.x.y.z == "deep")
  assert(json.encode(w) == s)
end)

test("null decodes to nil; json.null encodes to null", function()
  local v = json.decode('{"a": null, "b": 1}')
  assert(v.a == nil and v.b == 1)
  assert(json.encode({ a = json.null }) == '{"a":null}')
  assert(json.encode(json.null) == "null")
end)

test("unicode strings survive", function()
  local s = "héllo ✓ 😀"
  assert(json.decode(json.encode(s)) == s)
  assert(json.decode('"\\u00e9"') == "é")
end)

test("encode errors: NaN, Inf, cycles, mixed tables, bad UTF-8, functions", function()
  local cases = {
    { 0 / 0, "NaN" }, { math.huge, "" }, { { 1, 2, x = 3 }, "" }, { { [1] = 1, [3] = 3 }, "" },
    { "\xff\xfe", "UTF-8" }, { { f = function() end }, "" },
  }
  for i, c in ipairs(cases) do
    local s, err = json.encode(c[1])
    assert(s == nil and errors.is(err, errors.INVALID), "case " .. i)
    assert(err:message():find(c[2], 1, true), "case " .. i .. ": " .. err:message())
  end
  local t = {}
  t.self = t
  local s, err = json.encode(t)
  assert(s == nil and errors.is(err, errors.INVALID) and err:message():find("cycle"), err and err:message())
end)

test("decode errors carry line and column", function()
  local v, err = json.decode('{\n  "a": 1,\n  "b": ]\n}')
  assert(v == nil and errors.is(err, errors.INVALID))
  assert(err:message():find("line 3"), err:message())
  v, err = json.decode("")
  assert(v == nil and errors.is(err, errors.INVALID))
  v, err = json.decode("[1, 2")
  assert(v == nil)
end)

test("wrong argument types raise naming the function", function()
  local ok, err = pcall(json.decode, {})
  assert(not ok and tostring(err):find("json.decode"), tostring(err))
  ok, err = pcall(json.decode)
  assert(not ok)
end)

assert(failures == 0, failures .. " of " .. count .. " json tests failed")
print(count .. " json tests passed")
