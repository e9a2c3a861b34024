-- expect-exit: 1
-- expect-stderr: memory limit exceeded
-- An actor that exceeds its memory limit (64 MiB by default) fails, even if it catches the error.
local keep = {}
for i = 1, 1000 do
  pcall(function()
    keep[#keep + 1] = string.rep(string.char(i % 256), 1024 * 1024)
  end)
end
error("not reached: allocated " .. #keep .. " MiB")
