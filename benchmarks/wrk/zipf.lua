-- YCSB's zipfian generator (Gray et al., "Quickly generating billion-record synthetic
-- databases", as in YCSB's ZipfianGenerator), scrambled so the popular records are spread
-- over the key space. Shared by the wrk script (LuaJIT, via dofile) and the resp-benchmark
-- script (Lua 5.4, pasted in front of it by benchmarks/http.py), so both drivers draw keys
-- from the same distribution with the same code.
--
-- make(n, theta, zetan, p) returns a function giving record numbers in [0, n): rank r (0 the
-- most popular) with probability ~ 1 / (r + 1)^theta, mapped to record (r * p) % n, a
-- bijection because p is prime to n. zetan = sum over i = 1..n of 1 / i^theta (computed once,
-- in Python).
return function(n, theta, zetan, p)
  local random, floor = math.random, math.floor
  local zeta2 = 1 + 0.5 ^ theta
  local alpha = 1 / (1 - theta)
  local eta = (1 - (2 / n) ^ (1 - theta)) / (1 - zeta2 / zetan)
  return function()
    local u = random()
    local uz = u * zetan
    local r
    if uz < 1 then
      r = 0
    elseif uz < zeta2 then
      r = 1
    else
      r = floor(n * (eta * u - eta + 1) ^ alpha)
      if r >= n then r = n - 1 end
    end
    return (r * p) % n
  end
end
