-- Schedules a retry: the message leaves the in-flight hash for the scheduled set, due after the
-- backoff, and the record says `retrying`. The wait happens in Redis, not in a worker's memory
-- (Celery's countdown holds an unacked message in the worker until the ETA), so it is neither
-- counted as in flight nor redelivered by a sweep while the first copy still waits.
-- KEYS[1] in-flight hash, KEYS[2] scheduled set, KEYS[3] record. ARGV[1] prefix, ARGV[2] now,
-- ARGV[3] worker, ARGV[4] tag, ARGV[5] delay ms, ARGV[6] error, ARGV[7] retries so far + 1.
-- Returns 1 scheduled, 0 fenced off.
local prefix, at, worker, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
local due = now_ms() + tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], due, entry)
if not TERMINAL[redis.call('HGET', KEYS[3], 'status')] then
  redis.call('HSET', KEYS[3], 'status', 'retrying', 'error', ARGV[6], 'retries', ARGV[7],
             'retry_at', string.format('%.3f', due / 1000))
end
return 1
