-- expect-stdout: "msg":"hello"
-- expect-stdout: "user":"ada"
-- expect-stdout: "logger":"db.pool"
-- expect-stdout: "pid":"<0.
-- expect-stdout: "entry":"file://
-- The logger writes one JSON object per line (stdout is a pipe under the test runner), with the
-- actor's pid and entry id, fields, with() and named().
local logger = require("logger")
logger:info("hello", { user = "ada", n = 1 })
local db = logger:named("db"):named("pool"):with({ shard = 3 })
db:warn("slow query", { ms = 250 })
logger:debug("below the default level: not printed")
assert(not pcall(logger.info, logger, 42), "a non-string message must raise")
