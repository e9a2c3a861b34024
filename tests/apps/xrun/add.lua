local function main(a, b)
  assert(a == "2" and b == "3", "arguments arrive as strings")
  print("sum " .. (tonumber(a) + tonumber(b)))
  return true
end
return { main = main }
