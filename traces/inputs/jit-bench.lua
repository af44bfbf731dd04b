-- A small benchmark for LuaJIT: many short hot loops over different
-- functions, string and table operations, so that the JIT compiles many
-- traces (and side traces) and keeps adding machine code.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local function sum_squares(n)
  local s = 0
  for i = 1, n do s = s + i * i end
  return s
end

local function sieve(n)
  local p, c = {}, 0
  for i = 2, n do p[i] = true end
  for i = 2, n do
    if p[i] then c = c + 1; for j = i * i, n, i do p[j] = false end end
  end
  return c
end

local function strings(n)
  local t = {}
  for i = 1, n do t[#t + 1] = string.format("%d:%s", i, string.rep("x", i % 7)) end
  local s = table.concat(t, ",")
  local words = 0
  for w in s:gmatch("[^,]+") do if w:find("xx", 1, true) then words = words + 1 end end
  return #s + words + #s:upper():lower()
end

local function tables(n)
  local t = {}
  for i = 1, n do t[i] = { id = i, name = "k" .. (i % 100), v = (i * 7919) % 1000 } end
  table.sort(t, function(a, b) return a.v < b.v or (a.v == b.v and a.id < b.id) end)
  local h = {}
  for _, r in ipairs(t) do h[r.name] = (h[r.name] or 0) + r.v end
  local s = 0
  for k, v in pairs(h) do s = s + v + #k end
  return s
end

-- Many distinct small functions: each one becomes its own root trace, and
-- its branch its own side trace.
local gen = {}
for k = 1, 120 do
  gen[k] = load(string.format([[
    local k = %d
    return function(n)
      local a, b = 0, k
      for i = 1, n do
        if i %% %d == 0 then a = a + b * i else b = (b + i) %% 1009 end
      end
      return a + b
    end]], k, k % 5 + 2))()
end

local total = 0
for round = 1, 3 do
  for k = 1, #gen do total = total + gen[k](300 + k) end
  total = total + fib(15) + sum_squares(2000) + sieve(5000)
  total = total + strings(500) + tables(1000)
end
print(total)
