-- A valid function; its entry's id clashes with bad:worker in ../_index.yaml.
return { main = function() return true end }
