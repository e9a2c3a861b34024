---@meta
-- types/coroutine.lua — Wisp's extension of Lua's `coroutine` global (SPEC.md "coroutine",
-- docs/api/coroutine.md). The standard functions (create, resume, yield, wrap, status,
-- running, isyieldable, close) keep their Lua 5.4 signatures and come from the language
-- server's own definitions; resume and wrap are reimplemented so that a channel wait, a sleep
-- or a network call inside a user coroutine suspends the whole task instead of returning to
-- the caller of resume.

---Starts `fn(...)` as a new coroutine that the actor schedules, and returns at once.
---Spawned coroutines run concurrently with the caller (one at a time, switching when one
---waits). When the actor's main function returns, its other coroutines are ended; an
---uncaught error in any of them fails the actor. Raises if `fn` is not a function.
---@param fn async fun(...: any)
---@param ... any arguments passed to `fn`
function coroutine.spawn(fn, ...) end
