-- wrk script: POST the JSON body in $BENCH_BODY_FILE and print one machine-readable summary line.
-- Latencies are in microseconds. errors.status counts responses with a status above 399.
-- With $BENCH_PER_REQUEST set, every request is built in request() (bench/events.py: both of its
-- variants, so the client does the same work for each); with $BENCH_CE_TYPE as well, each is a
-- CloudEvent in binary mode (ce-* headers, the body is the data) with a new ce-id, so none is an
-- idempotent replay.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
-- An API key for the sections that measure authentication (bench/auth.py).
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end

if os.getenv("BENCH_PER_REQUEST") then
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
    return wrk.format("POST", nil, headers, wrk.body)
  end
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
