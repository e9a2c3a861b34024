---@meta
-- types/process.lua — the `process` global: identity, messages, spawning, links, monitors,
-- events, cancellation and the name registry (SPEC.md "process", docs/api/process.md).

---A process id: a string like `"<0.7>"`.
---@alias Pid string

---A destination: a pid, or a name registered with `process.registry.register`.
---@alias Destination Pid|string

---A message from `process.inbox()` (or a `{message = true}` listener).
---@class Message
local Message = {}

---The topic it was sent with.
---@return string
function Message:topic() end

---The pid of the sender.
---@return Pid
function Message:from() end

---The values sent after the topic.
---@return Payload
function Message:payload() end

---The values of a message (deep copies of what the sender passed).
---@class Payload
local Payload = {}

---Every value sent after the topic, in order (nil when there were none).
---@return any ...
function Payload:data() end

---The result of a finished process, in an EXIT event.
---@class ProcessResult
---@field value any the first value the process returned (absent when none)
---@field error Error|nil why it failed (absent when it ended normally)

---An event from `process.events()` (or a monitor).
---@class ProcessEvent
---@field kind '"pid.exit"'|'"pid.link.down"'|'"pid.cancel"' one of `process.event.*`
---@field from Pid the process the event is about (EXIT, LINK_DOWN) or from (CANCEL)
---@field result ProcessResult|nil EXIT only
---@field reason string|nil why: the error message (EXIT of a failed process, LINK_DOWN) or the cancel reason

---@class ProcessOptions
---@field trap_links? boolean receive LINK_DOWN events instead of dying with a failed linked process

---@class ListenOptions
---@field message? boolean deliver Message objects instead of the first payload value

---@class processlib
process = {}

---The event kinds of `process.events()`.
process.event = {
  EXIT = "pid.exit",
  LINK_DOWN = "pid.link.down",
  CANCEL = "pid.cancel",
}

---This actor's pid.
---@return Pid
function process.pid() end

---Sends `topic` and a deep copy of the values to `dest`. Messages from one sender arrive in
---order. `nil, err`: NOT_FOUND (no such name, process not running), INVALID (malformed pid,
---empty topic, topic starting with `@`, a value that cannot be copied such as a function),
---PERMISSION_DENIED (`process.send` on the target pid). Raises if `dest` or `topic` is not a
---string.
---@param dest Destination
---@param topic string
---@param ... any
---@return true|nil ok
---@return Error|nil err
function process.send(dest, topic, ...) end

---Starts the process entry `id` (`ns:name`; under `wisp exec` also `file://path.lua`,
---relative to the script) on `host` with the arguments, and returns its pid at once.
---`nil, err`: NOT_FOUND (no such entry), INVALID (bad arguments, host full),
---PERMISSION_DENIED (`process.spawn` on the id, `process.host` on the host).
---@param id string
---@param host? string a `process.host` entry id (nil under `wisp exec`)
---@param ... any arguments of the process's function
---@return Pid|nil pid
---@return Error|nil err
function process.spawn(id, host, ...) end

---Like `process.spawn`, and monitors the child: its EXIT event arrives on `process.events()`.
---@param id string
---@param host? string
---@param ... any
---@return Pid|nil pid
---@return Error|nil err
function process.spawn_monitored(id, host, ...) end

---Like `process.spawn`, and links the child: if either ends abnormally, the other is killed
---(unless it traps links).
---@param id string
---@param host? string
---@param ... any
---@return Pid|nil pid
---@return Error|nil err
function process.spawn_linked(id, host, ...) end

---Like `process.spawn`, linked and monitored.
---@param id string
---@param host? string
---@param ... any
---@return Pid|nil pid
---@return Error|nil err
function process.spawn_linked_monitored(id, host, ...) end

---Spawns the process and waits for it to end. Returns the first value it returned, or
---`nil, err` when it could not start or failed (raised, returned `nil, err` or `false`).
---@async
---@param id string
---@param host? string
---@param ... any
---@return any|nil value
---@return Error|nil err
function process.exec(id, host, ...) end

---The channel of Message objects sent to this actor (the same channel every call). Messages
---that arrive before the first call are kept.
---@return Channel
function process.inbox() end

---A channel receiving the messages of one topic instead of the inbox: the first payload value
---of each, or Message objects with `{message = true}`. `nil, err`: INVALID (empty or `@`
---topic, unknown option), ALREADY_EXISTS (the topic has a listener).
---@param topic string
---@param options? ListenOptions
---@return Channel|nil ch
---@return Error|nil err
function process.listen(topic, options) end

---Stops a listener made by `process.listen` and closes its channel; later messages of the
---topic go to the inbox. `nil, err` (NOT_FOUND) when `ch` is not a listener.
---@param ch Channel
---@return true|nil ok
---@return Error|nil err
function process.unlisten(ch) end

---The channel of ProcessEvent tables (EXIT of monitored processes, LINK_DOWN when trapping
---links, CANCEL). An actor that never calls it is ended at once by a CANCEL.
---@return Channel
function process.events() end

---Asks `dest` to stop: it receives a CANCEL event (or ends at once if it never called
---`process.events()`). `nil, err`: NOT_FOUND, INVALID, PERMISSION_DENIED (`process.cancel`).
---@param dest Destination
---@param reason? string
---@return true|nil ok
---@return Error|nil err
function process.cancel(dest, reason) end

---Ends `dest` at once (its EXIT error kind is CANCELED). Terminating yourself raises.
---`nil, err`: NOT_FOUND, INVALID, PERMISSION_DENIED (`process.terminate`).
---@param dest Destination
---@return true|nil ok
---@return Error|nil err
function process.terminate(dest) end

---Monitors `dest`: its EXIT event will arrive on `process.events()` (at once, with reason
---"noproc" and error kind NotFound, if it is not running). `nil, err`: NOT_FOUND (unknown name), INVALID, PERMISSION_DENIED (`process.monitor`).
---@param dest Destination
---@return true|nil ok
---@return Error|nil err
function process.monitor(dest) end

---Stops monitoring `dest`. `nil, err` (NOT_FOUND) when it was not monitored.
---@param dest Destination
---@return true|nil ok
---@return Error|nil err
function process.unmonitor(dest) end

---Links this actor with `dest`: when either ends abnormally, the other is killed unless it
---traps links (then it gets a LINK_DOWN event). `nil, err`: NOT_FOUND (not running),
---INVALID, PERMISSION_DENIED (`process.link`).
---@param dest Destination
---@return true|nil ok
---@return Error|nil err
function process.link(dest) end

---Removes a link.
---@param dest Destination
---@return true|nil ok
---@return Error|nil err
function process.unlink(dest) end

---This actor's options.
---@return { trap_links: boolean }
function process.get_options() end

---Changes this actor's options. `nil, err` (INVALID) for an unknown option or a wrong type.
---@param options ProcessOptions
---@return true|nil ok
---@return Error|nil err
function process.set_options(options) end

---The process-wide name registry.
process.registry = {}

---Registers `name` for `pid` (default: this actor); the name is dropped when the process
---ends. `nil, err`: ALREADY_EXISTS, INVALID (empty, too long, starting with `<`, malformed
---pid), NOT_FOUND (the process is not running), PERMISSION_DENIED
---(`process.registry.register` on the name).
---@param name string
---@param pid? Pid
---@return true|nil ok
---@return Error|nil err
function process.registry.register(name, pid) end

---The pid registered as `name`; `nil, err` (NOT_FOUND) when none is.
---@param name string
---@return Pid|nil pid
---@return Error|nil err
function process.registry.lookup(name) end

---Removes a registration. `nil, err`: NOT_FOUND, PERMISSION_DENIED
---(`process.registry.unregister` on the name).
---@param name string
---@return true|nil ok
---@return Error|nil err
function process.registry.unregister(name) end

return process
