---@meta
-- types/channel.lua — the `channel` global (SPEC.md "channel", docs/api/channel.md).
-- lua-language-server definitions; tests/docs/run_docs.py checks them against the runtime.

---A channel: a FIFO queue that coroutines of one actor use to pass values and to wait.
---Unbuffered (size 0) by default: a send waits until a receiver takes the value.
---Values pass by reference; channels are actor-local (send values to other actors with
---`process.send`). `#ch` is the number of buffered values.
---@class Channel
---@operator len: integer
local Channel = {}

---A case for `channel.select`, made by `ch:case_send(v)` or `ch:case_receive()`.
---@class SelectCase

---What `channel.select` returns: the case that was taken, or the default.
---@class SelectResult
---@field channel Channel|nil the channel of the case taken (absent for the default)
---@field value any the value received (receive cases; nil once the channel is closed)
---@field ok boolean true, or false when the receive case's channel is closed and drained
---@field default boolean|nil true when no case was ready and the default was taken

---@class channellib
channel = {}

---Creates a channel. `size` is its buffer capacity (default 0: unbuffered).
---Raises if `size` is not an integer from 0 to 1000000000.
---@param size? integer buffer capacity, 0 to 1000000000 (default 0)
---@return Channel
function channel.new(size) end

---Waits until one of the cases is ready and takes the first ready one in array order.
---With `default = true` (in the table, or `true` as the second argument) it returns at once
---when no case is ready. Raises when there are no cases and no default, when an element is
---not a case, and when a send case's channel is closed.
---@async
---@param cases { [integer]: SelectCase, default?: boolean } the cases, in priority order; `default = true` returns at once when none is ready
---@param default? boolean same as `default = true` in `cases`
---@return SelectResult
function channel.select(cases, default) end

---Sends a value: returns once a receiver took it or it was buffered, waiting (yielding
---this coroutine only) otherwise. Raises on a closed channel, and where the coroutine
---cannot wait (inside a C function such as `table.sort`'s comparator or a metamethod).
---@async
---@param value any any value except nil
---@return true
function Channel:send(value) end

---Receives a value, waiting while the channel is empty.
---Returns `value, true`, or `nil, false` once the channel is closed and drained.
---@async
---@return any value
---@return boolean ok false when the channel is closed and drained
function Channel:receive() end

---Closes the channel: waiting receivers get `nil, false`, waiting senders raise.
---Buffered values can still be received. Closing twice does nothing.
function Channel:close() end

---A send case for `channel.select`.
---@param value any
---@return SelectCase
function Channel:case_send(value) end

---A receive case for `channel.select` (the same case object every call).
---@return SelectCase
function Channel:case_receive() end

return channel
