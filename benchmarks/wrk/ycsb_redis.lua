-- resp-benchmark script for the `http` suite's YCSB C against Redis: HGETALL user<k>, k drawn
-- by zipf.lua, the generator the wrk script uses for LumaDB. benchmarks/http.py puts the
-- parameters and zipf.lua in front of this text:
--   local N, THETA, ZETAN, P = ...
--   local make_zipf = (function() <zipf.lua> end)()
local next_record = make_zipf(N, THETA, ZETAN, P)
local format = string.format

function generate()
  return {"HGETALL", format("user%d", next_record())}
end
