-- Logs what the security context of this service allows.
local logger = require("logger")
local security = require("security")

local function main(name)
  local me = security.actor()
  local sent, send_err = process.send(process.pid(), "note", 1)
  local child, spawn_err = process.spawn("app:child")
  local panel, panel_err = process.spawn("app:admin_panel")
  logger:info("probe", {
    name = name,
    actor = me and me.id or "none",
    role = me and me.meta and me.meta.role or "none",
    can_send = security.can("process.send", "<0.1>"),
    sent = sent == true,
    send_error = send_err and send_err:kind() or "",
    spawned = child ~= nil,
    spawn_error = spawn_err and spawn_err:kind() or "",
    panel_error = panel_err and panel_err:message() or "",
  })
  if child then
    -- the child inherits this context: it can spawn what we can
    process.send(child, "report", process.pid())
    local m = process.inbox():receive()
    while m:topic() ~= "child" do m = process.inbox():receive() end
    logger:info("child context", { name = name, actor = m:payload():data() })
  end
  return true
end

return { main = main }
