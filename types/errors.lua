---@meta
-- types/errors.lua — the `errors` global and the Error object (SPEC.md "errors",
-- docs/api/errors.md).

---@alias ErrorKind
---| '""'               # errors.UNKNOWN
---| '"Invalid"'        # errors.INVALID
---| '"NotFound"'       # errors.NOT_FOUND
---| '"AlreadyExists"'  # errors.ALREADY_EXISTS
---| '"PermissionDenied"' # errors.PERMISSION_DENIED
---| '"Timeout"'        # errors.TIMEOUT
---| '"Canceled"'       # errors.CANCELED
---| '"Unavailable"'    # errors.UNAVAILABLE
---| '"Internal"'       # errors.INTERNAL
---| '"Conflict"'       # errors.CONFLICT
---| '"RateLimited"'    # errors.RATE_LIMITED

---An error object: immutable once created. Calls that can fail return `nil, err` with one;
---`error(err)` raises it unchanged (pcall gives the same object back).
---`tostring(err)` is `"Kind: message"`, or the bare message when the kind is UNKNOWN.
---@class Error
local Error = {}

---The kind: one of the `errors.*` kind strings ("" for UNKNOWN).
---@return ErrorKind|string
function Error:kind() end

---The message (for a wrapped error: `"context: inner message"`).
---@return string
function Error:message() end

---Whether trying again may succeed.
---@return boolean
function Error:retryable() end

---A fresh copy of the structured details, or nil when there are none.
---@return table|nil
function Error:details() end

---The traceback taken where the error was created ("stack traceback:\n\t...").
---@return string
function Error:stack() end

---Fields of `errors.new{...}`.
---@class ErrorOptions
---@field message string required
---@field kind? ErrorKind one of the `errors.*` kinds (default UNKNOWN)
---@field retryable? boolean default false
---@field details? table plain data: strings, numbers, booleans and tables of them

---@class errorslib
errors = {}

errors.UNKNOWN = ""
errors.INVALID = "Invalid"
errors.NOT_FOUND = "NotFound"
errors.ALREADY_EXISTS = "AlreadyExists"
errors.PERMISSION_DENIED = "PermissionDenied"
errors.TIMEOUT = "Timeout"
errors.CANCELED = "Canceled"
errors.UNAVAILABLE = "Unavailable"
errors.INTERNAL = "Internal"
errors.CONFLICT = "Conflict"
errors.RATE_LIMITED = "RateLimited"

---Creates an error: `errors.new("message")` or `errors.new{message =, kind =, retryable =,
---details =}`. Raises on a wrong argument type, an unknown field, a kind that is not one of
---the `errors.*` kinds, or details that are not plain data.
---@param message_or_options string|ErrorOptions
---@return Error
function errors.new(message_or_options) end

---Wraps `err` with context: the message becomes `"context: <err's message>"`; kind,
---retryable, details and traceback are kept, and `errors.is` still sees the wrapped kinds.
---`err` may be any value (a string error from `pcall`, say): it becomes the message.
---Raises if `context` is not a string.
---@param err any
---@param context string
---@return Error
function errors.wrap(err, context) end

---Whether `err` (or any error it wraps) is of `kind`. False for values that are not errors.
---Raises if `kind` is not a string.
---@param err any
---@param kind ErrorKind|string
---@return boolean
function errors.is(err, kind) end

return errors
