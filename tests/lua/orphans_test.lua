-- Children still running when the script ends are terminated: wisp exec returns promptly.
for _ = 1, 20 do assert(process.spawn("file://procs/sleeper.lua")) end
