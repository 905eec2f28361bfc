-- wrk script: GET one management URL with a bearer credential (AUTH), and report throughput and
-- latency in the RESULT line run.sh and flags.sh print. Any status other than 200 counts as an error.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("AUTH") or "")

local bad = 0
response = function(status)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests/s=%.0f mean_us=%d p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency.mean, latency:percentile(50), latency:percentile(99), summary.requests, errors))
end
