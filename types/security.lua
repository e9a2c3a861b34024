---@meta
-- types/security.lua — `require("security")`: the running actor's identity and permission
-- checks (SPEC.md "security", docs/security.md, docs/api/security.md).

---The actor's identity, as a service's `lifecycle.security.actor` declares it.
---@class SecurityActor
---@field id string
---@field meta table<string, any> `{}` when the identity has none

---@class securitylib
local security = {}

---The running actor's identity: a fresh table each call, or nil when the actor has none
---(operator code under `wisp exec` and `wisp run -x`, or a service whose manifest declares no
---`security.actor`).
---@return SecurityActor|nil
function security.actor() end

---Whether the actor's scope allows `action` on `resource` (with request metadata `meta`),
---by the same rules the modules apply: any matching deny wins, then any matching allow,
---otherwise denied. Raises for wrong argument types, strings containing NUL bytes, and a
---`meta` that is a list or cannot be converted to JSON.
---@param action string e.g. "websocket.connect.url"
---@param resource string e.g. "wss://feed.example.com/prices"
---@param meta? table<string, any>
---@return boolean
function security.can(action, resource, meta) end

return security
