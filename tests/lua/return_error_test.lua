-- expect-exit: 1
-- expect-stderr: bad things
-- A script that returns nil, err ends with exit code 1 and the error on stderr.
return nil, errors.new({ message = "bad things", kind = errors.INTERNAL })
