-- wrk script for the `http` suite: every request built from pre-generated data, with the
-- bearer token; the same script drives LumaDB and the raw-ASGI peer.
--
--   wrk ... -s luma.lua URL -- get   PATH_PREFIX TOKEN SEED IDS_FILE
--   wrk ... -s luma.lua URL -- post  PATH        TOKEN SEED BODY_FILE TAG
--   wrk ... -s luma.lua URL -- ycsb  PATH_PREFIX TOKEN SEED ZIPF_LUA N THETA ZETAN P
--
-- get:  GET PATH_PREFIX/<id>, the id a uniformly random line of IDS_FILE (existing ids).
-- post: POST PATH with BODY_FILE's JSON object, given a fresh id TAG-<thread>-<counter>.
-- ycsb: GET PATH_PREFIX/user<k>, k drawn by zipf.lua (YCSB's scrambled zipfian).
-- At the end one line `JSON {...}` gives requests, duration, errors and latency percentiles.

local threads_made = 0

function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_no", threads_made)
end

local mode, head, tail, pick
local counter = 0

function init(args)
  mode = args[1]
  local token = args[3]
  math.randomseed(tonumber(args[4]) * 1000 + thread_no)
  local host = "Host: " .. wrk.host .. ":" .. wrk.port .. "\r\n"
  local auth = "Authorization: Bearer " .. token .. "\r\n"
  if mode == "get" then
    local ids, n = {}, 0
    for line in io.lines(args[5]) do
      n = n + 1
      ids[n] = line
    end
    local random = math.random
    pick = function() return ids[random(n)] end
    head = "GET " .. args[2] .. "/"
    tail = " HTTP/1.1\r\n" .. host .. auth .. "\r\n"
  elseif mode == "ycsb" then
    local make = dofile(args[5])
    local next_record = make(tonumber(args[6]), tonumber(args[7]), tonumber(args[8]),
      tonumber(args[9]))
    pick = function() return string.format("user%d", next_record()) end
    head = "GET " .. args[2] .. "/"
    tail = " HTTP/1.1\r\n" .. host .. auth .. "\r\n"
  elseif mode == "post" then
    local file = assert(io.open(args[5], "rb"))
    local body = file:read("*a")
    file:close()
    -- body is a JSON object; the id goes in front of its first key
    local rest = "," .. body:sub(2)
    local prefix = '{"id":"' .. args[6] .. "-" .. thread_no .. "-"
    local start = "POST " .. args[2] .. " HTTP/1.1\r\n" .. host .. auth
      .. "Content-Type: application/json\r\nContent-Length: "
    pick = function()
      counter = counter + 1
      local doc = prefix .. counter .. '"' .. rest
      return start .. #doc .. "\r\n\r\n" .. doc
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  if mode == "post" then
    return pick()
  end
  return head .. pick() .. tail
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
