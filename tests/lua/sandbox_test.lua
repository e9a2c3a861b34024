-- The actor sandbox: no io, no process control, text-only load, restricted require/os/debug.
assert(io == nil, "io must not exist")
assert(os.execute == nil and os.exit == nil and os.remove == nil and os.rename == nil)
assert(os.getenv == nil and os.tmpname == nil and os.setlocale == nil)
assert(type(os.time()) == "number" and type(os.clock()) == "number" and type(os.date("!%Y")) == "string")
assert(dofile == nil and loadfile == nil)
assert(debug.traceback and debug.getinfo == nil and debug.sethook == nil and debug.setmetatable == nil)
assert(package == nil)

-- load: text chunks work, binary chunks are refused
local f = load("return 1 + 1")
assert(f() == 2)
local bin = string.dump(function() return 1 end)
local g, err = load(bin)
assert(g == nil and err, "binary chunk accepted")
local g2, err2 = load(bin, "x", "b")
assert(g2 == nil and err2:find("binary"), err2)

-- require: built-in modules only
assert(require("time") and require("json") and require("string") == string)
local ok, e = pcall(require, "socket")
assert(not ok and tostring(e):find("not found"))
ok, e = pcall(require, "../../etc/passwd")
assert(not ok)

-- lazily opened globals are there when touched
assert(math.floor(2.5) == 2 and table.concat({ 1, 2 }, ",") == "1,2" and utf8.char(65) == "A")
assert(("abc"):upper() == "ABC" and "10" + 1 == 11)
assert(type(process.pid()) == "string" and process.pid():match("^<0%.%d+>$"), process.pid())
assert(errors.INVALID == "Invalid")
print("sandbox ok")
