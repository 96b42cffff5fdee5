-- wrk script for the forward-auth benchmark: a gateway (GATEWAY in Tokend-Gateway) asks about
-- each client token in turn, as nginx auth_request would. Each thread walks its own stride of
-- the token file (TOKENS_FILE), at most LIMIT distinct tokens.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  tokens = {}
  local f = assert(io.open(os.getenv("TOKENS_FILE")))
  for line in f:lines() do
    tokens[#tokens + 1] = line
  end
  f:close()
  limit = math.min(tonumber(os.getenv("LIMIT") or #tokens), #tokens)
  stride = tonumber(os.getenv("WRK_THREADS") or "2")
  index = id
  gateway = "Bearer " .. os.getenv("GATEWAY")
end

function request()
  local token = tokens[(index % limit) + 1]
  index = index + stride
  return wrk.format("GET", "/v1/forward-auth", {
    ["Tokend-Gateway"] = gateway,
    ["Authorization"] = "Bearer " .. token,
  })
end
