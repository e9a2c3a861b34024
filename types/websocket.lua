---@meta
-- types/websocket.lua — `require("websocket")`: the WebSocket client (seed/websocket.md,
-- SPEC.md "websocket", docs/api/websocket.md).

---A received message (what the client's channel delivers).
---@class websocket.Message
---@field type '"text"'|'"binary"' `websocket.TYPE_TEXT` or `websocket.TYPE_BINARY`
---@field data string the payload

---TLS settings for `wss://` (verification and SNI are on by default).
---@class websocket.TlsOptions
---@field ca_file? string PEM bundle of trusted CAs (default: /etc/ssl/certs/ca-certificates.crt)
---@field cert_file? string client certificate (PEM); needs `key_file`
---@field key_file? string the client certificate's key (PEM); needs `cert_file`
---@field server_name? string name to verify and send as SNI (default: the URL's host)
---@field insecure? boolean skip certificate verification (logged as a warning)

---Options of `websocket.connect`. Durations: a number is **milliseconds**, a string is Go
---syntax ("5s"). An unknown key or an out-of-range value is `nil, err` (INVALID).
---@class websocket.Options
---@field headers? table<string, string> extra handshake headers (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*` are refused)
---@field protocols? string[] subprotocols to offer
---@field dial_timeout? integer|string the whole connect: DNS, TCP, TLS, upgrade (default 30 s; 0 = default)
---@field read_timeout? integer|string fail when no frame arrives for this long (default 0: none)
---@field write_timeout? integer|string fail when a send cannot be flushed within it (default 0: none)
---@field compression? integer|string `websocket.COMPRESSION.*`, or "disabled", "context_takeover", "no_context"
---@field compression_threshold? integer bytes, 0 to 104857600 (default 128): smaller messages go uncompressed
---@field read_limit? integer largest message in bytes, 1 to 134217728 (default 16 MiB; 0 = default); bigger closes with 1009
---@field channel_capacity? integer undelivered messages held, 1 to 10000 (default 32); when full, reading stops
---@field tls? websocket.TlsOptions
---@field ping_interval? integer|string send a ping when idle this long (default 0: off)
---@field ping_timeout? integer|string close with 1011 when no pong comes within it (default 20 s)

---A WebSocket connection (userdata). Closed with 1001 when the actor ends or when it is no
---longer reachable.
---@class websocket.Client
local Client = {}

---Sends a text (default) or binary message. Returns once the frame is queued, waiting while
---the write queue is over its high-water mark. `nil, err` (INVALID) for another `type` or text
---that is not valid UTF-8; `nil, err` (INTERNAL) once the connection is closing or closed.
---Raises if `data` is not a string.
---@async
---@param data string
---@param type? integer `websocket.TEXT` (default) or `websocket.BINARY`
---@return true|nil ok
---@return Error|nil err
function Client:send(data, type) end

---Sends a ping (the pong is handled by the connection, not delivered). `nil, err`: INVALID
---for a payload over 125 bytes, INTERNAL once the connection is closing or closed.
---@param data? string
---@return true|nil ok
---@return Error|nil err
function Client:ping(data) end

---The channel of received messages (the same channel every call). When the connection ends,
---buffered messages are still delivered, then the channel is closed (`receive` gives
---`nil, false`). Messages that arrive before the first call are kept.
---@return Channel
function Client:channel() end

---The same as `channel()`.
---@return Channel
function Client:receive() end

---Closes the connection: sends a close frame and waits (up to 5 s) for the peer's, then drops
---the TCP connection. A second close does nothing and returns true. `nil, err` (INVALID) for
---a code outside 1000–1003, 1007–1014, 3000–4999 or a reason over 123 bytes or not UTF-8.
---@async
---@param code? integer default 1000 (`websocket.CLOSE_CODES.NORMAL`)
---@param reason? string
---@return true|nil ok
---@return Error|nil err
function Client:close(code, reason) end

---The subprotocol the server chose, or nil.
---@return string|nil
function Client:protocol() end

---After the connection ended: the close code and reason (1006 and "" when no close frame
---came). Before that: nil.
---@return integer|nil code
---@return string|nil reason
function Client:close_status() end

---@class websocketlib
local websocket = {}

---Message type for `send`: text.
websocket.TEXT = 1
---Message type for `send`: binary.
websocket.BINARY = 2
---`msg.type` of a text message.
websocket.TYPE_TEXT = "text"
---`msg.type` of a binary message.
websocket.TYPE_BINARY = "binary"
---Kept for compatibility: pings are answered automatically and never delivered.
websocket.TYPE_PING = "ping"
---Kept for compatibility: pongs are never delivered.
websocket.TYPE_PONG = "pong"
---Kept for compatibility: close frames end the channel instead of being delivered.
websocket.TYPE_CLOSE = "close"

---Values of the `compression` option (permessage-deflate, RFC 7692).
websocket.COMPRESSION = {
  DISABLED = 0,
  CONTEXT_TAKEOVER = 1,
  NO_CONTEXT = 2,
}

---Close codes (RFC 6455 §7.4.1).
websocket.CLOSE_CODES = {
  NORMAL = 1000,
  GOING_AWAY = 1001,
  PROTOCOL_ERROR = 1002,
  UNSUPPORTED_DATA = 1003,
  RESERVED = 1004,
  NO_STATUS = 1005,
  ABNORMAL_CLOSURE = 1006,
  INVALID_PAYLOAD = 1007,
  POLICY_VIOLATION = 1008,
  MESSAGE_TOO_BIG = 1009,
  MANDATORY_EXTENSION = 1010,
  INTERNAL_ERROR = 1011,
  SERVICE_RESTART = 1012,
  TRY_AGAIN_LATER = 1013,
  BAD_GATEWAY = 1014,
  TLS_HANDSHAKE = 1015,
}

---Connects to `url` (`ws://`, `wss://`; `http://`, `https://` as aliases) and completes the
---handshake. Waits (yielding this coroutine) until connected or failed.
---`nil, err`: PERMISSION_DENIED (`websocket.connect`, `websocket.connect.url` policies),
---INVALID (bad URL or option), INTERNAL retryable (DNS, TCP, TLS or handshake failure;
---`err:details()` = `{stage =, status =, location =, address =}`), TIMEOUT retryable
---(`dial_timeout`). Raises if `url` is not a string or `options` not a table.
---@async
---@param url string
---@param options? websocket.Options
---@return websocket.Client|nil client
---@return Error|nil err
function websocket.connect(url, options) end

return websocket
