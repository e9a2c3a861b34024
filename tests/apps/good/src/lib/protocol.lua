-- Names shared by the pinger and the ponger.
return {
  PONGER = "app.ponger",
  PING = "ping",
  PONG = "pong",
}
