-- A child actor that allocates until it hits its memory limit.
local t = {}
while true do t[#t + 1] = string.rep("x", 1 << 20) end
