-- wrk script for the list benchmarks: GET PATH (a page of 100) as the seeded member (SESSION),
-- who owns every seeded token and administers their organization.
function init(args)
  path = os.getenv("LIST_PATH")
  headers = { ["Authorization"] = "Bearer " .. os.getenv("SESSION") }
end

function request()
  return wrk.format("GET", path, headers)
end
