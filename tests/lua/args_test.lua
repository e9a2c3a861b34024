-- args: one two 3
-- The chunk gets the command-line arguments as strings.
local a, b, c = ...
assert(a == "one" and b == "two" and c == "3" and math.type(c) == nil, tostring(c))
assert(select("#", ...) == 3)
return true
