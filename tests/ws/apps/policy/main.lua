-- Runs under `wisp run tests/ws/apps/policy -x ws:main <python websockets server address>`:
-- asks the two probe services to connect to URLs and checks each decision.
local time = require("time")

local function main(py)
  assert(py and py:match("^127%.0%.0%.1:%d+$"), "usage: -x ws:main 127.0.0.1:PORT")
  local port = py:match(":(%d+)$")

  local function lookup(name)
    for _ = 1, 200 do
      local pid = process.registry.lookup(name)
      if pid then return pid end
      time.sleep("25ms")
    end
    error("service " .. name .. " never registered")
  end
  local allowed, denied = lookup("ws-probe-allowed"), lookup("ws-probe-denied")

  local inbox = process.inbox()
  local function try(probe, url, opts)
    assert(process.send(probe, "try", url, opts))
    local r = channel.select { inbox:case_receive(), time.after("15s"):case_receive() }
    assert(r.channel == inbox, "no answer for " .. url)
    assert(r.value:topic() == "result")
    return r.value:payload():data()
  end

  local failures, count = 0, 0
  local function expect(probe, url, opts, want)
    count = count + 1
    local r = try(probe, url, opts)
    local got = r.ok and "ok" or r.kind
    local good = (want == "ok" and r.ok) or (want ~= "ok" and not r.ok and r.kind == want)
      or (want == "not denied" and (r.ok or r.kind ~= errors.PERMISSION_DENIED))
    if want == errors.PERMISSION_DENIED and good and r.retryable ~= false then
      good, got = false, got .. " (retryable)"
    end
    if not good then
      failures = failures + 1
      print(string.format("FAIL %s -> %s, expected %s (%s)", url, got, want, tostring(r.message)))
    end
  end

  local base = "ws://" .. py
  local DENIED, INVALID = errors.PERMISSION_DENIED, errors.INVALID
  -- allowed URLs, also after normalisation (scheme case, dot segments)
  expect(allowed, base .. "/echo", nil, "ok")
  expect(allowed, base .. "/echo?public=1", nil, "ok")
  expect(allowed, "WS://127.0.0.1:" .. port .. "/echo", nil, "ok")
  expect(allowed, base .. "/x/../echo", nil, "ok")
  expect(allowed, "ws://127.0.0.1:80/default-port", { dial_timeout = "2s" }, "not denied")
  -- URLs outside the allow list, or matched by a deny
  expect(allowed, base .. "/headers", nil, DENIED)
  expect(allowed, "ws://localhost:" .. port .. "/echo", nil, DENIED)
  expect(allowed, base .. "/echo?secret=1", nil, DENIED)
  expect(allowed, "ws://127.0.0.1:81/default-port", nil, DENIED)
  -- check order: connect policy, URL syntax, URL policy, options
  expect(allowed, "not a url", nil, INVALID)
  expect(allowed, base .. "/headers", { channel_capacity = 0 }, DENIED)
  expect(allowed, base .. "/echo", { channel_capacity = 0 }, INVALID)
  expect(denied, base .. "/echo", nil, DENIED)
  expect(denied, "not a url", nil, DENIED)

  if failures > 0 then
    return nil, errors.new({ message = failures .. " of " .. count .. " policy checks failed", kind = errors.INTERNAL })
  end
  print(count .. " policy checks passed")
  return true
end

return { main = main }
