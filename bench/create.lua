-- wrk script for the create benchmark: POST /v1/tokens as the seeded member (SESSION), each
-- request with a name no other request uses (RUN, the thread and a counter).
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
  prefix = os.getenv("RUN") .. "-" .. id .. "-"
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("SESSION"),
  }
end

function request()
  n = n + 1
  return wrk.format("POST", "/v1/tokens", headers,
    '{"kind":"personal","name":"' .. prefix .. n .. '","scopes":["read"],"organization_ids":["bench"]}')
end
