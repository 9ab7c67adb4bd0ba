-- wrk script: many paths and many client addresses (sent through the trusted X-Forwarded-For), so the
-- server sees the spread of a real download site, not one cached answer.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local ips = {}
for line in io.lines(os.getenv("BENCH_IPS")) do ips[#ips + 1] = line end
local counter = 0

function setup(thread)
  thread:set("offset", math.random(1, 1000000))
end

function request()
  counter = counter + 1
  local n = counter + (offset or 0)
  local path = paths[(n % #paths) + 1]
  local ip = ips[((n * 7919) % #ips) + 1]
  return wrk.format("GET", path, { ["X-Forwarded-For"] = ip })
end
