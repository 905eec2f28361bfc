-- wrk script: POST an evaluation for a rotating user id, and report throughput and latency.
-- Set BODY_KIND=ofrep for the OFREP body shape.
local counter = 0
local kind = os.getenv("BODY_KIND") or "vane"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("SDK_KEY") or ""

request = function()
  counter = counter + 1
  local user = "user-" .. (counter % 100000)
  local body
  if kind == "ofrep" then
    body = '{"context":{"targetingKey":"' .. user .. '","plan":"pro","country":"US"}}'
  else
    body = '{"user_id":"' .. user .. '","attributes":{"plan":"pro","country":"US"}}'
  end
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests/s=%.0f p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), summary.requests, errors))
end
