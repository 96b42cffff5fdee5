-- wrk script for the cold rows: introspection about each seeded token at most once. A thread
-- stops when its stride of the tokens is used up, and `done` prints the rate over the time
-- until the last thread stopped (wrk's own Requests/sec divides by the whole -d duration, and
-- a longer run would wrap around to tokens already cached). When the duration ends first,
-- no token was used twice and wrk's own rate stands.
dofile("bench/introspect.lua")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]

local function now()
  local t = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, t) -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local threads = {}
local stride_setup, introspect_init, introspect_request = setup, init, request

function setup(thread)
  stride_setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  introspect_init(args)
  share = math.ceil((limit - id) / stride)
  issued = 0
  started = now()
end

function request()
  issued = issued + 1
  if issued > share then
    finished = finished or now()
    wrk.thread:stop()
  end
  return introspect_request()
end

function done(summary)
  local first, last = math.huge, 0
  for _, thread in ipairs(threads) do
    local finished = thread:get("finished")
    if not finished then
      return
    end
    first = math.min(first, thread:get("started"))
    last = math.max(last, finished)
  end
  io.write(string.format("Requests/sec (each token once): %.2f\n", summary.requests / (last - first)))
end
