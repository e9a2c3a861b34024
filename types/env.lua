---@meta
-- types/env.lua — `require("env")`: environment variables of the wisp process, read through
-- the security policy (action `env.get`, resource = the name). docs/api/env.md.

---@class envlib
local env = {}

---The value of an environment variable as it was when wisp started.
---Errors: INVALID for an empty name or one containing `=`; PERMISSION_DENIED when the policy
---denies `env.get` on the name; NOT_FOUND when the variable is not set.
---@param name string
---@return string|nil value
---@return Error|nil err
function env.get(name) end

return env
