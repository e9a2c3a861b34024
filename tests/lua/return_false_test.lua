-- expect-exit: 1
-- A script that returns false fails.
return false
