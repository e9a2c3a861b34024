-- A library with a syntax error on line 3.
local M = {}
function M.broken( return 1 end
return M
