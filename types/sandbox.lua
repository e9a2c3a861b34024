---@meta
-- types/sandbox.lua — what an actor's sandbox keeps of Lua's `os` and `debug` libraries
-- (docs/api/README.md "The sandbox"). Use it with the language server's own `os`, `debug`,
-- `io` and `package` disabled (`runtime.builtin` in .luarc.json, docs/getting-started.md), so
-- that completion offers only what exists. Not in the sandbox at all: `io`, `package`,
-- `dofile`, `loadfile`; `load` refuses binary chunks; `print` writes one line per call (a log
-- line when the output is structured); `require` gives only the built-in modules and the
-- libraries an entry imports.

---@class oslib
os = {}

---CPU time used by the whole runtime process, in seconds.
---@return number
function os.clock() end

---The current time as a Unix timestamp, or the timestamp of the date table `t`.
---@param t? { year: integer, month: integer, day: integer, hour?: integer, min?: integer, sec?: integer, isdst?: boolean }
---@return integer
function os.time(t) end

---Formats a time (`os.date("!%Y-%m-%dT%H:%M:%SZ")`); `"*t"` / `"!*t"` return a table.
---@param format? string
---@param time? integer
---@return string|table
function os.date(format, time) end

---`t2 - t1` in seconds.
---@param t2 integer
---@param t1? integer
---@return number
function os.difftime(t2, t1) end

---@class debuglib
debug = {}

---A traceback of the current coroutine's stack, after `message`.
---@overload fun(thread: thread, message?: any, level?: integer): string
---@param message? any
---@param level? integer
---@return string
function debug.traceback(message, level) end
