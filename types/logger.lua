---@meta
-- types/logger.lua — `require("logger")`: structured logging (SPEC.md "logger",
-- docs/api/logger.md). The module itself is the root logger; `with` and `named` return
-- derived loggers with the same methods.

---A logger. Each call writes one line: JSON on a pipe or file (`ts`, `level`, `msg`,
---`logger`, `pid`, `entry`, then the fields), human-readable text on a terminal
---(`--log-format` chooses). Calls below the level set by `--log-level` cost nothing.
---Field values follow `json.encode`'s rules; an Error becomes its message. A field named like a
---reserved key (`ts level msg logger pid entry`) is written as `fields.<key>`.
---Raises for a wrong argument type and for fields that cannot be encoded (functions, cycles,
---mixed tables).
---@class Logger
local logger = {}

---Writes `msg` at level debug with the logger's fields and `fields`.
---@param msg string
---@param fields? table<string, any>
function logger:debug(msg, fields) end

---Writes `msg` at level info with the logger's fields and `fields`.
---@param msg string
---@param fields? table<string, any>
function logger:info(msg, fields) end

---Writes `msg` at level warn with the logger's fields and `fields`.
---@param msg string
---@param fields? table<string, any>
function logger:warn(msg, fields) end

---Writes `msg` at level error with the logger's fields and `fields`.
---@param msg string
---@param fields? table<string, any>
function logger:error(msg, fields) end

---A logger that adds `fields` to every line (fields given to a call override them).
---@param fields table<string, any>
---@return Logger
function logger:with(fields) end

---A logger named `name` (dotted under a named parent: `"db.pool"`), written as `logger`.
---Raises for an empty name.
---@param name string
---@return Logger
function logger:named(name) end

return logger
