-- Holds back a message whose task this worker does not know: during a rolling deploy the
-- Knative revision (the API) and the worker Deployment roll independently, so an older worker
-- may meet a function it has not been given yet. The message waits in the scheduled set and
-- comes back to the queue after `delay` for a worker that knows it; once it has been held back
-- for `limit` seconds it is dead-lettered (reason unknown_task) and the record fails.
-- KEYS[1] in-flight hash, KEYS[2] scheduled set. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker,
-- ARGV[4] tag, ARGV[5] delay ms, ARGV[6] limit seconds, ARGV[7] task name,
-- ARGV[8] dead-letter store bound (entries), ARGV[9] record ttl, ARGV[10] the store's bound in
-- bytes.
-- Returns 0 fenced off, 1 held back, 2 dead-lettered.
local prefix, at, worker, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
local rk = record_key(prefix, tag)
local since = redis.call('HGET', rk, 'held_since')
if not since then
  since = at
  redis.call('HSET', rk, 'held_since', at)
  note(rk, 'held_back', at, worker, ARGV[7])
end
if tonumber(at) - tonumber(since) < tonumber(ARGV[6]) then
  redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[5]), entry)
  return 1
end
local src, msg = split(entry)
local id = string.match(tag, '^(.+)%.[^.]+$')
local error = 'NotRegistered: no worker took task ' .. ARGV[7] .. ' within ' .. ARGV[6] .. ' s'
local info = redis.call('HMGET', rk, 'function', 'attempts', 'tenant')
dead_letter(prefix, src, msg, id, {
  reason = 'unknown_task', invocation_id = id, ['function'] = info[1] or ARGV[7],
  attempts = tonumber(info[2] or '0'), tenant = info[3] or nil, worker = worker,
  error = {type = 'NotRegistered', message = error},
}, at, ARGV[8], ARGV[10], ARGV[9])
fail_record(rk, at, error)
return 2
