---@meta
-- types/json.lua — `require("json")` (SPEC.md "json", docs/api/json.md).

---@class jsonlib
local json = {}

---The JSON `null` placeholder: what a `null` array element decodes to, and what to put in a
---table to encode `null`. Equal in every actor (compare with `==`).
---@type lightuserdata
json.null = nil

---Encodes a value as compact JSON text. Sequences 1..n become arrays, tables with string keys
---objects (keys sorted), the empty table `[]`; integers stay integers, floats keep a `.` or an
---exponent. Returns `nil, err` (INVALID) for NaN or infinities, cycles, mixed or sparse tables,
---functions, userdata other than `json.null`, invalid UTF-8 and nesting deeper than the limit.
---Raises when called without an argument.
---@param value any
---@return string|nil text
---@return Error|nil err
function json.encode(value) end

---Decodes JSON text (any value at the top). `null` decodes to nil at the top and as an object
---member (the key is absent), and to `json.null` as an array element. Returns `nil, err`
---(INVALID, with line and column) for malformed text. Raises if `text` is not a string.
---@param text string
---@return any|nil value
---@return Error|nil err
function json.decode(text) end

return json
