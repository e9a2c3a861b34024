-- An idle actor: blocks on its inbox until told to stop.
local m = process.inbox():receive()
