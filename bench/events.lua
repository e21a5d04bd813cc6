-- wrk script for the events section: POST the body in $BENCH_BODY_FILE, either as a plain
-- invocation (no $BENCH_CE_TYPE) or as a CloudEvent in binary mode (ce-* headers, the body is
-- the data) with a new ce-id per request, so every request is a new event (the same id would be
-- an idempotent replay, which enqueues nothing). Both variants build each request in request(),
-- so the client does the same work per request. Prints bench/post.lua's summary line.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
local ce_type = os.getenv("BENCH_CE_TYPE")
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
local n = 0
local headers = {["Content-Type"] = "application/json"}
if ce_type then
  headers["ce-specversion"] = "1.0"
  headers["ce-type"] = ce_type
  headers["ce-source"] = "/bench"
end

function request()
  n = n + 1
  if ce_type then headers["ce-id"] = run .. "-" .. n end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
