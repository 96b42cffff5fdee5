-- Shared by the wrk scripts: each thread walks its own stride of the token file (TOKENS_FILE),
-- at most LIMIT distinct tokens. `next_token()` returns the next one.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function load_tokens()
  tokens = {}
  local f = assert(io.open(os.getenv("TOKENS_FILE")))
  for line in f:lines() do
    tokens[#tokens + 1] = line
  end
  f:close()
  limit = math.min(tonumber(os.getenv("LIMIT") or #tokens), #tokens)
  stride = tonumber(os.getenv("WRK_THREADS") or "2")
  index = id
end

function next_token()
  local token = tokens[(index % limit) + 1]
  index = index + stride
  return token
end
