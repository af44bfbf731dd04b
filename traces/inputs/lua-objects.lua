-- Lua 5.4 interpreter workload: many small objects (tables, closures,
-- strings), a growing hash table, sorting and an incremental GC at work.
local seed = 42
local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end

-- a word-frequency table over generated words
local freq, words = {}, {}
for i = 1, 3000 do
  local w = string.char(97 + rnd(26), 97 + rnd(26), 97 + rnd(6)) .. rnd(20)
  freq[w] = (freq[w] or 0) + 1
  if i % 4 == 0 then words[#words + 1] = w end
end
local keys = {}
for k in pairs(freq) do keys[#keys + 1] = k end
table.sort(keys, function(a, b) return freq[a] > freq[b] or (freq[a] == freq[b] and a < b) end)

-- a binary tree of small tables, built and dropped several times
local function tree(d) if d == 0 then return { v = rnd(100) } end return { l = tree(d - 1), r = tree(d - 1) } end
local function sum(t) if t.v then return t.v end return sum(t.l) + sum(t.r) end
local s = 0
for r = 1, 4 do s = s + sum(tree(9)) end

-- closures and string building
local acc = {}
for i = 1, 600 do
  local f = function(x) return x * i + #keys end
  acc[#acc + 1] = tostring(f(i)) .. ":" .. words[1 + i % #words]
end
local joined = table.concat(acc, ",")
print(#keys, keys[1], freq[keys[1]], s, #joined, collectgarbage("count") > 0)
