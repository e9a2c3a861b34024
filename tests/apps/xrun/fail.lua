local function main() return nil, errors.new({ message = "xrun failure", kind = errors.INVALID }) end
return { main = main }
