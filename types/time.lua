---@meta
-- types/time.lua — `require("time")`: Time, Duration, sleep, after, timer, ticker
-- (SPEC.md "time", docs/api/time.md).

---A duration argument: a number of **nanoseconds** (use the constants: `5 * time.SECOND`),
---a Go duration string (`"1h2m3.5s"`, units ns us µs ms s m h) or a Duration.
---@alias DurationLike integer|number|string|Duration

---A point in time (nanoseconds since the Unix epoch, UTC).
---Operators: `t1 == t2`, `t1 < t2`, `t1 <= t2`, `t1 - t2` (a Duration), `t - d` and `t + d`
---(a Time); `tostring(t)` is RFC 3339 with nanoseconds.
---@class Time
---@operator sub(Time): Duration
---@operator sub(DurationLike): Time
---@operator add(DurationLike): Time
local Time = {}

---Seconds since the Unix epoch (floored).
---@return integer
function Time:unix() end

---Nanoseconds since the Unix epoch.
---@return integer
function Time:unix_nano() end

---Milliseconds since the Unix epoch.
---@return integer
function Time:unix_milli() end

---The time elapsed from `other` to this time.
---@param other Time
---@return Duration
function Time:sub(other) end

---This time plus `d`. Raises the INVALID error for an unparsable duration string.
---@param d DurationLike
---@return Time
function Time:add(d) end

---Whether this time is before `other`.
---@param other Time
---@return boolean
function Time:before(other) end

---Whether this time is after `other`.
---@param other Time
---@return boolean
function Time:after(other) end

---Whether both are the same instant (also `t1 == t2`).
---@param other Time
---@return boolean
function Time:equal(other) end

---RFC 3339 in UTC, whole seconds: `"2024-05-01T12:00:00Z"`.
---@return string
function Time:format_rfc3339() end

---RFC 3339 in UTC with the fraction (trailing zeros trimmed): `"2024-05-01T12:00:00.5Z"`.
---@return string
function Time:format_rfc3339_nano() end

---A span of time in nanoseconds. Operators: `+`, `-`, unary `-`, `==`, `<`, `<=` (the other
---operand may be any DurationLike); `tostring(d)` is Go syntax (`"1h2m3.5s"`).
---@class Duration
---@operator add(DurationLike): Duration
---@operator sub(DurationLike): Duration
---@operator unm: Duration
local Duration = {}

---The duration in nanoseconds.
---@return integer
function Duration:nanoseconds() end

---The duration in whole microseconds (truncated toward zero).
---@return integer
function Duration:microseconds() end

---The duration in whole milliseconds (truncated toward zero).
---@return integer
function Duration:milliseconds() end

---The duration in seconds (a float).
---@return number
function Duration:seconds() end

---The duration in minutes (a float).
---@return number
function Duration:minutes() end

---The duration in hours (a float).
---@return number
function Duration:hours() end

---Go duration syntax, e.g. `"1h2m3.5s"`, `"250ms"`, `"0s"`.
---@return string
function Duration:string() end

---A one-shot timer (`time.timer`). Its channel receives the Time it fired at; the channel
---stays open after it fires.
---@class Timer
local Timer = {}

---The channel the expiry is delivered to (the same channel every call).
---@return Channel
function Timer:channel() end

---Stops the timer. Returns whether it was still pending.
---@return boolean
function Timer:stop() end

---Re-arms the timer to fire `d` from now. Returns whether it was still pending, or
---`nil, err` (INVALID) for an unparsable duration string.
---@param d DurationLike
---@return boolean|nil was_pending
---@return Error|nil err
function Timer:reset(d) end

---A periodic timer (`time.ticker`). Its channel holds at most one tick: ticks the actor does
---not take in time are dropped.
---@class Ticker
local Ticker = {}

---The channel the ticks (Time values) are delivered to.
---@return Channel
function Ticker:channel() end

---Stops the ticker. Returns whether it was running.
---@return boolean
function Ticker:stop() end

---Changes the period to `d` (restarting it from now). Returns whether it was running, or
---`nil, err` (INVALID) for an unparsable or non-positive period.
---@param d DurationLike
---@return boolean|nil was_running
---@return Error|nil err
function Ticker:reset(d) end

---@class timelib
local time = {}

time.NANOSECOND = 1
time.MICROSECOND = 1000
time.MILLISECOND = 1000000
time.SECOND = 1000000000
time.MINUTE = 60000000000
time.HOUR = 3600000000000

---Suspends the calling coroutine for `d` (other coroutines and actors keep running).
---Returns true, or `nil, err` (INVALID) for an unparsable duration string; raises for a
---wrong argument type. A duration of 0 or less returns at once.
---@async
---@param d DurationLike
---@return true|nil ok
---@return Error|nil err
function time.sleep(d) end

---A channel that receives one Time after `d`, then is closed.
---@param d DurationLike
---@return Channel|nil ch
---@return Error|nil err
function time.after(d) end

---A one-shot timer firing after `d`.
---@param d DurationLike
---@return Timer|nil timer
---@return Error|nil err
function time.timer(d) end

---A ticker firing every `d` (which must be positive).
---@param d DurationLike
---@return Ticker|nil ticker
---@return Error|nil err
function time.ticker(d) end

---The current time (wall clock, UTC).
---@return Time
function time.now() end

---The Time `sec` seconds plus `nsec` nanoseconds after the Unix epoch; `nil, err` (INVALID)
---when out of range.
---@param sec integer
---@param nsec? integer default 0
---@return Time|nil t
---@return Error|nil err
function time.unix(sec, nsec) end

---Parses Go duration syntax (`"1h2m3.5s"`, `"-1.5h"`, `"300ms"`); `nil, err` (INVALID) when
---the string is not a duration.
---@param s string
---@return Duration|nil d
---@return Error|nil err
function time.parse_duration(s) end

return time
