-- args: {py} {pytls} {certs} {proxy}
-- env: http_proxy=http://{proxyauth} HTTP_PROXY=http://alice:s3cret@{proxyauth} HTTPS_PROXY=http://{proxydeny} NO_PROXY=localhost,.example.invalid
-- timeout: 60
-- Proxies from the environment: http_proxy for ws://, https_proxy / HTTPS_PROXY for wss://,
-- the lower-case name first; NO_PROXY exempts hosts; the proxy option overrides the
-- environment and proxy = false ignores it. (The environment above points ws:// at a proxy
-- that wants credentials it does not carry, and wss:// at one that refuses every port but 443,
-- so a refusal proves which variable was used.)
local websocket = require("websocket")
local time = require("time")
local PY, PYTLS, CERTS, PROXY = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "5s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  return r.value, r.ok
end

local function echo(c, text)
  assert(c:send(text))
  assert(recv(c:channel()).data == text)
end

local TLS = { ca_file = CERTS .. "/ca.pem" }
local port = PY:match(":(%d+)$")

test("ws:// uses http_proxy (lower-case wins over HTTP_PROXY)", function()
  local c, err = websocket.connect("ws://" .. PY .. "/echo")
  assert(c == nil and err:details().stage == "proxy" and err:details().status == 407,
    "the credential-less http_proxy answered: " .. tostring(err))
end)

test("wss:// uses HTTPS_PROXY", function()
  local c, err = websocket.connect("wss://" .. PYTLS .. "/echo", { tls = TLS })
  assert(c == nil and err:details().stage == "proxy" and err:details().status == 403, tostring(err))
end)

test("NO_PROXY exempts a host", function()
  local c = assert(websocket.connect("ws://localhost:" .. port .. "/echo"))
  echo(c, "direct, by NO_PROXY")
  c:close()
end)

test("proxy = false ignores the environment", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = false }))
  echo(c, "direct")
  c:close()
  local c2 = assert(websocket.connect("wss://" .. PYTLS .. "/echo", { proxy = false, tls = TLS }))
  echo(c2, "direct over TLS")
  c2:close()
end)

test("the proxy option overrides the environment", function()
  local c = assert(websocket.connect("ws://" .. PY .. "/echo", { proxy = "http://" .. PROXY }))
  echo(c, "through the open proxy")
  c:close()
  local c2 = assert(websocket.connect("wss://" .. PYTLS .. "/echo", { proxy = "http://" .. PROXY, tls = TLS }))
  echo(c2, "TLS through the open proxy")
  c2:close()
end)

assert(failures == 0, failures .. " of " .. count .. " proxy environment tests failed")
print(count .. " proxy environment tests passed")
