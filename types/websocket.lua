---@meta
-- types/websocket.lua — `require("websocket")`: the WebSocket client (seed/websocket.md,
-- SPEC.md "websocket", docs/api/websocket.md).

---A received message (what the client's channel delivers; with `reconnect = {notify = true}`
---also `websocket.Notice` values).
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

---Reconnecting after a dropped connection (`reconnect` option). Durations: a number is
---milliseconds, a string is Go syntax.
---@class websocket.ReconnectOptions
---@field initial_delay? integer|string the first attempt's back-off (default 500 ms)
---@field max_delay? integer|string the longest back-off (default 30 s; not below initial_delay)
---@field factor? number back-off growth per attempt, 1 to 1000 (default 2)
---@field jitter? number 0 to 1: each delay is scaled by a random factor in [1 - jitter, 1 + jitter] (default 0.2)
---@field max_attempts? integer failed attempts in a row before giving up, 0 = no limit (default 0)
---@field notify? boolean put "disconnected", "reconnecting" and "reconnected" notices on the channel (default false)

---A notice on the channel of a client with `reconnect = {notify = true}` (next to messages).
---@class websocket.Notice
---@field type '"disconnected"'|'"reconnecting"'|'"reconnected"'
---@field code? integer disconnected: the close code of the connection that ended
---@field reason? string disconnected: its close reason
---@field message? string disconnected: what happened
---@field attempt? integer reconnecting, reconnected: the attempt's number (1, 2, ...)
---@field delay? integer reconnecting: milliseconds before this attempt
---@field error? Error reconnecting: why the previous attempt failed (nil for the first)

---The server's answer to the upgrade request (`client:response()`).
---@class websocket.Response
---@field status integer 101
---@field headers table<string, string> lower-case names; repeated headers joined with ", "

---Traffic counters of a client, over all its connections (`client:stats()`).
---@class websocket.Stats
---@field bytes_in integer socket bytes read (upgrade, proxy CONNECT, TLS records, frames)
---@field bytes_out integer socket bytes written
---@field messages_in integer data messages received
---@field messages_out integer data messages sent
---@field frames_in integer frames received (fragments and control frames included)
---@field frames_out integer frames sent
---@field pings_sent integer pings written (ping() and the keepalive)
---@field last_rtt_ms? number last ping to its pong, in milliseconds; nil before a pong
---@field connected_for? number seconds since the current connection opened; nil when not connected
---@field compression_ratio? number message bytes before / after permessage-deflate, both ways; nil when uncompressed
---@field reconnects integer connections opened by `reconnect`

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
---@field proxy? string|false "http://[user:password@]host:port" to tunnel through; false: never a proxy (default: https_proxy / http_proxy / no_proxy from the environment)
---@field follow_redirects? integer follow up to this many 301/302/303/307/308 answers, 0 to 10 (default 0)
---@field reconnect? boolean|websocket.ReconnectOptions dial again after the connection drops (default off)
---@field on_open? fun(client: websocket.Client) runs in a new task after every (re)connect

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
---came). Before that, and while reconnecting: nil. When `reconnect` gave up: 1006, the last
---failure's message and its Error.
---@return integer|nil code
---@return string|nil reason
---@return Error|nil err
function Client:close_status() end

---The server's answer to the upgrade request (the latest one after a reconnect), a new table
---every call; nil when no connection has opened.
---@return websocket.Response|nil
function Client:response() end

---Traffic counters over all the client's connections.
---@return websocket.Stats
function Client:stats() end

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
