-- args: {pytls} {pymtls} {certs} {py} {pyexpired} {pyfuture} {pyother} {pyuntrusted} {pyselfsigned} {silent} {ngx} {ngxmtls}
-- timeout: 120
-- expect-stdout: TLS certificate verification is disabled (tls.insecure = true)
-- wss:// verification and its failures, against Python websockets with certificates from
-- tests/certs/gen.sh and nginx terminating TLS: verification and SNI on by default, tls.ca_file
-- trusts the test CA, the host name or IP must match, tls.server_name overrides the name checked,
-- insecure = true skips verification (and logs a warning), client certificates for mutual TLS;
-- a certificate that fails verification is INTERNAL, stage "tls", not retryable, and the message
-- says what failed (unknown issuer, expired, not yet valid, name mismatch); a server that
-- accepts TCP and never speaks TLS is a TIMEOUT at stage "tls" within dial_timeout.
local websocket = require("websocket")
local time = require("time")
local TLS, MTLS, CERTS, PLAIN, EXPIRED, FUTURE, OTHER, UNTRUSTED, SELFSIGNED, SILENT, NGX, NGXMTLS = ...

local failures, count = 0, 0
local function test(name, fn)
  count = count + 1
  local ok, err = pcall(fn)
  if not ok then failures = failures + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end

local function recv(ch, timeout)
  local r = channel.select { ch:case_receive(), time.after(timeout or "10s"):case_receive() }
  assert(r.channel == ch, "timed out waiting on the channel")
  assert(r.ok, "channel closed while waiting for a message")
  return r.value
end

local CA = CERTS .. "/ca.pem"
local function port(addr) return addr:match(":(%d+)$") end
local function localhost(addr, path) return "wss://localhost:" .. port(addr) .. (path or "/echo") end

local function echo_over(url, opts, payload)
  local c, err = websocket.connect(url, opts)
  assert(c, url .. ": " .. tostring(err))
  assert(c:send(payload or "over tls"))
  local m = recv(c:channel())
  assert(m.data == (payload or "over tls"), "echo differs")
  assert(c:close())
  assert(c:close_status() == 1000, "close_status " .. tostring(c:close_status()))
end

local function tls_failure(url, opts, retryable)
  local c, err = websocket.connect(url, opts)
  assert(c == nil, url .. " was accepted")
  assert(errors.is(err, errors.INTERNAL), "expected INTERNAL, got " .. tostring(err:kind()) .. ": " .. tostring(err))
  local d = err:details()
  assert(d and d.stage == "tls", "details().stage = " .. tostring(d and d.stage) .. ": " .. tostring(err))
  if retryable ~= nil then
    assert(err:retryable() == retryable, "retryable should be " .. tostring(retryable) .. ": " .. tostring(err))
  end
  return tostring(err)
end

test("trusted CA, host name in the certificate", function()
  echo_over(localhost(TLS), { tls = { ca_file = CA } })
end)

test("trusted CA, IP address in the certificate", function()
  echo_over("wss://" .. TLS .. "/echo", { tls = { ca_file = CA } })
end)

test("large messages both ways over TLS", function()
  echo_over(localhost(TLS), { tls = { ca_file = CA } }, string.rep("0123456789abcdef", 200000))
end)

test("https:// is an alias of wss://", function()
  echo_over("https://localhost:" .. port(TLS) .. "/echo", { tls = { ca_file = CA } })
end)

test("nginx terminating TLS in front of the plain peer", function()
  echo_over(localhost(NGX), { tls = { ca_file = CA } })
  echo_over(localhost(NGX), { tls = { ca_file = CA } }, string.rep("nginx ", 500000))
end)

local messages = {}

test("unknown issuer: untrusted CA, a private CA not in the bundle, self-signed", function()
  local m = tls_failure(localhost(UNTRUSTED), { tls = { ca_file = CA } }, false)
  assert(m:find("unknown issuer", 1, true) and m:find("Wisp Untrusted CA", 1, true), m)
  messages.issuer = m
  -- the default bundle (/etc/ssl/certs/ca-certificates.crt) does not know the test CA
  m = tls_failure(localhost(TLS), nil, false)
  assert(m:find("unknown issuer", 1, true) and m:find("ca-certificates.crt", 1, true), m)
  m = tls_failure(localhost(TLS), { tls = { ca_file = CERTS .. "/untrusted-ca.pem" } }, false)
  assert(m:find("unknown issuer", 1, true), m)
  m = tls_failure(localhost(SELFSIGNED), { tls = { ca_file = CA } }, false)
  assert(m:find("unknown issuer", 1, true) and m:find("self-signed", 1, true), m)
end)

test("expired and not yet valid certificates", function()
  local m = tls_failure(localhost(EXPIRED), { tls = { ca_file = CA } }, false)
  assert(m:find("expired", 1, true) and m:find("2020-01-02", 1, true), m)
  messages.expired = m
  m = tls_failure(localhost(FUTURE), { tls = { ca_file = CA } }, false)
  assert(m:find("not yet valid", 1, true) and m:find("2099-01-01", 1, true), m)
end)

test("name mismatch: a certificate for another name, server_name, an IP not in the certificate", function()
  local m = tls_failure(localhost(OTHER), { tls = { ca_file = CA } }, false)
  assert(m:find("name mismatch", 1, true) and m:find("localhost", 1, true) and m:find("other.test", 1, true), m)
  messages.name = m
  m = tls_failure(localhost(TLS), { tls = { ca_file = CA, server_name = "wrong.example" } }, false)
  assert(m:find("name mismatch", 1, true) and m:find("wrong.example", 1, true), m)
  m = tls_failure("wss://" .. OTHER .. "/echo", { tls = { ca_file = CA } }, false)
  assert(m:find("name mismatch", 1, true) and m:find("127.0.0.1", 1, true), m)
end)

test("the three verification failures have three different messages", function()
  assert(messages.issuer and messages.expired and messages.name, "an earlier case failed")
  assert(messages.issuer ~= messages.expired and messages.expired ~= messages.name and messages.issuer ~= messages.name)
  assert(not messages.issuer:find("expired", 1, true) and not messages.expired:find("unknown issuer", 1, true)
    and not messages.name:find("expired", 1, true), "messages overlap")
end)

test("server_name sets the name checked (connecting by IP)", function()
  echo_over("wss://" .. TLS .. "/echo", { tls = { ca_file = CA, server_name = "localhost" } })
  echo_over("wss://" .. OTHER .. "/echo", { tls = { ca_file = CA, server_name = "other.test" } })
end)

test("insecure = true skips verification", function()
  echo_over(localhost(TLS), { tls = { insecure = true } })
  echo_over(localhost(TLS), { tls = { insecure = true, server_name = "wrong.example" } })
  echo_over(localhost(EXPIRED), { tls = { insecure = true } })
  echo_over(localhost(SELFSIGNED), { tls = { insecure = true } })
end)

test("wss:// to a plain WebSocket port fails in the TLS stage, retryable", function()
  local m = tls_failure("wss://" .. PLAIN .. "/echo", { dial_timeout = "5s", tls = { insecure = true } }, true)
  assert(m:find("did not answer with TLS", 1, true), m)
end)

test("a server that accepts TCP and never speaks TLS: TIMEOUT at stage tls within dial_timeout", function()
  local t0 = time.now()
  local c, err = websocket.connect("wss://" .. SILENT .. "/", { dial_timeout = "700ms", tls = { ca_file = CA } })
  local ms = time.now():sub(t0):milliseconds()
  assert(c == nil, "connected to a silent server")
  assert(errors.is(err, errors.TIMEOUT), "expected TIMEOUT, got " .. tostring(err:kind()) .. ": " .. tostring(err))
  assert(err:retryable(), "a timeout is retryable")
  assert(err:details().stage == "tls", "stage " .. tostring(err:details().stage))
  assert(ms >= 690 and ms < 2500, "took " .. ms .. " ms for a 700 ms dial_timeout")
end)

test("unusable TLS files fail at connect, stage tls, not retryable", function()
  local m = tls_failure(localhost(TLS), { tls = { ca_file = CERTS .. "/no-such-file.pem" } }, false)
  assert(m:find("no-such-file.pem", 1, true), m)
  m = tls_failure(localhost(MTLS), { tls = { ca_file = CA, cert_file = CERTS .. "/client.pem",
    key_file = CERTS .. "/server.key" } }, false)
  assert(m:find("does not match", 1, true), m)
end)

local CLIENT = { ca_file = CA, cert_file = CERTS .. "/client.pem", key_file = CERTS .. "/client.key" }

test("mutual TLS: a client certificate is presented (Python and nginx)", function()
  echo_over("wss://" .. MTLS .. "/echo", { tls = CLIENT })
  echo_over(localhost(NGXMTLS), { tls = CLIENT })
end)

test("mutual TLS: without a client certificate the connection fails", function()
  local c, err = websocket.connect("wss://" .. MTLS .. "/echo", { tls = { ca_file = CA }, dial_timeout = "5s" })
  if c then
    -- TLS 1.3 may finish the client's side of the handshake before the server refuses: then
    -- the refusal must end the connection before anything is delivered
    local r = channel.select { c:channel():case_receive(), time.after("5s"):case_receive() }
    assert(r.channel == c:channel() and r.ok == false, "a connection without a client certificate carried data")
  else
    -- with TLS 1.3 the refusal comes after our side of the handshake, and Python's server
    -- closes without sending its alert: all the client can say is that TLS ended early
    assert(errors.is(err, errors.INTERNAL), "expected INTERNAL, got " .. tostring(err:kind()))
    assert(err:details().stage == "tls", "stage " .. tostring(err:details().stage) .. ": " .. tostring(err))
  end
  -- nginx answers 400 over TLS when no certificate came (ssl_verify_client on)
  c, err = websocket.connect(localhost(NGXMTLS), { tls = { ca_file = CA }, dial_timeout = "5s" })
  assert(c == nil, "nginx accepted a client without certificate")
  assert(err:details().status == 400, "expected nginx's 400, got " .. tostring(err))
end)

assert(failures == 0, failures .. " of " .. count .. " TLS tests failed")
print(count .. " TLS tests passed")
