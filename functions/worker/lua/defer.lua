-- Moves a delivery whose message carries a future `eta` (a producer's countdown) to the
-- scheduled set until then, instead of letting Celery hold it in the worker's memory, where it
-- would count as in flight and could outlive the worker.
-- KEYS[1] in-flight hash, KEYS[2] scheduled set. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker,
-- ARGV[4] tag, ARGV[5] due time (Unix ms).
-- Returns 0 fenced off, 1 scheduled.
local prefix, worker, tag = ARGV[1], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), entry)
local rk = record_key(prefix, tag)
if rk and redis.call('HGET', rk, 'delivery') == tag
    and not TERMINAL[redis.call('HGET', rk, 'status')] then
  redis.call('HSET', rk, 'status', 'queued')
end
return 1
