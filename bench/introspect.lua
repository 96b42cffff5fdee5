-- wrk script for the introspection benchmark: POST /v1/introspect about each token in turn,
-- authenticating as GATEWAY (see tokens.lua for the walk over TOKENS_FILE).
dofile("bench/tokens.lua")

function init(args)
  load_tokens()
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("GATEWAY"),
  }
end

function request()
  return wrk.format("POST", "/v1/introspect", headers, '{"token":"' .. next_token() .. '"}')
end
