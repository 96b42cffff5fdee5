-- wrk script for the introspection benchmark. Each thread walks its own stride of the token
-- file (TOKENS_FILE), at most LIMIT distinct tokens, authenticating as GATEWAY.
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
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("GATEWAY"),
  }
end

function request()
  local token = tokens[(index % limit) + 1]
  index = index + stride
  return wrk.format("POST", "/v1/introspect", headers, '{"token":"' .. token .. '"}')
end
