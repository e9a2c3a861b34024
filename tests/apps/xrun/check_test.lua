local function main()
  assert(1 + 1 == 2)
  return true
end
return { main = main }
