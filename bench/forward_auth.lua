-- wrk script for the forward-auth benchmark: a gateway (GATEWAY in Tokend-Gateway) asks about
-- each client token in turn, as nginx auth_request would (see tokens.lua for the walk).
dofile("bench/tokens.lua")

function init(args)
  load_tokens()
  gateway = "Bearer " .. os.getenv("GATEWAY")
end

function request()
  return wrk.format("GET", "/v1/forward-auth", {
    ["Tokend-Gateway"] = gateway,
    ["Authorization"] = "Bearer " .. next_token(),
  })
end
