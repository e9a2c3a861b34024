-- Runs under `wisp run tests/ws/apps/proxy_policy -x wsp:main <raw peer> <tinyproxy>`: asks
-- the probes to connect through redirects and proxies and checks each decision.
local time = require("time")

local function main(raw, proxy)
  assert(raw and raw:match("^127%.0%.0%.1:%d+$") and proxy and proxy:match("^127%.0%.0%.1:%d+$"),
    "usage: -x wsp:main 127.0.0.1:RAWPORT 127.0.0.1:PROXYPORT")
  local proxy_port = proxy:match(":(%d+)$")

  local function lookup(name)
    for _ = 1, 200 do
      local pid = process.registry.lookup(name)
      if pid then return pid end
      time.sleep("25ms")
    end
    error("service " .. name .. " never registered")
  end
  local with_proxy, direct = lookup("wsp-probe-proxy"), lookup("wsp-probe-direct")

  local inbox = process.inbox()
  local failures, count = 0, 0
  local function expect(probe, url, opts, want)
    count = count + 1
    assert(process.send(probe, "try", url, opts))
    local r = channel.select { inbox:case_receive(), time.after("15s"):case_receive() }
    assert(r.channel == inbox, "no answer for " .. url)
    local res = r.value:payload():data()
    local got = res.ok and "ok" or res.kind
    local good = (want == "ok" and res.ok) or (not res.ok and res.kind == want)
    if good and want == errors.PERMISSION_DENIED and res.retryable ~= false then good = false end
    if not good then
      failures = failures + 1
      print(string.format("FAIL %s %s -> %s, expected %s (%s)", url, tostring(opts and opts.proxy), got, want,
        tostring(res.message)))
    end
  end

  local base = "ws://" .. raw
  local DENIED, INVALID = errors.PERMISSION_DENIED, errors.INVALID
  local follow = { follow_redirects = 2 }
  -- every redirect hop is checked against websocket.connect.url
  expect(direct, base .. "/redir?n=1&to=%2Frecord%3Fid%3Dallowed", follow, "ok")
  expect(direct, base .. "/redir?n=1&to=%2Frecord%3Fid%3Dforbidden-1", follow, DENIED)
  expect(direct, base .. "/redir?to=%2Fsecret%3Fid%3Dx", follow, DENIED)
  expect(direct, base .. "/record?id=forbidden-2", nil, DENIED)
  -- the proxy URL is checked against websocket.proxy (credentials are not part of it)
  expect(with_proxy, base .. "/record?id=p1", { proxy = "http://" .. proxy }, "ok")
  expect(with_proxy, base .. "/record?id=p2", { proxy = "http://user:pw@" .. proxy }, "ok")
  expect(with_proxy, base .. "/record?id=p3", { proxy = "http://localhost:" .. proxy_port }, DENIED)
  expect(direct, base .. "/record?id=p4", { proxy = "http://" .. proxy }, DENIED)
  expect(direct, base .. "/record?id=p5", { proxy = false }, "ok")
  -- redirects through a proxy: both checks apply
  expect(with_proxy, base .. "/redir?to=%2Frecord%3Fid%3Dforbidden-3", { proxy = "http://" .. proxy, follow_redirects = 1 }, DENIED)
  expect(with_proxy, base .. "/redir?to=%2Frecord%3Fid%3Dvia", { proxy = "http://" .. proxy, follow_redirects = 1 }, "ok")
  -- options are checked before the proxy policy
  expect(direct, base .. "/record?id=p6", { proxy = "http://" .. proxy, follow_redirects = 99 }, INVALID)

  if failures > 0 then
    return nil, errors.new({ message = failures .. " of " .. count .. " proxy/redirect policy checks failed", kind = errors.INTERNAL })
  end
  print(count .. " proxy/redirect policy checks passed")
  return true
end

return { main = main }
