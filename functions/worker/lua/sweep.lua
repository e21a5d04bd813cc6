-- Run by every worker of a pool about once a second (whichever runs first does the work):
--  1. scheduled messages that are due (retries after their backoff, held-back messages) go
--     back to the head of their queue;
--  2. the deliveries of every worker whose lease has expired go back to the head of their
--     queue, each record counting the lost delivery and saying why (worker_lost).
-- After a gap in sweeping (Redis was down or paused, or no worker ran), every lease looks
-- expired only because nobody could renew it: live workers get one lease period to renew
-- before anything is reclaimed, so an outage does not count as lost workers.
-- KEYS[1] leases, KEYS[2] in-flight hash, KEYS[3] scheduled set, KEYS[4] sweep state hash.
-- ARGV[1] prefix, ARGV[2] now (seconds), ARGV[3] sweep interval ms, ARGV[4] lease ttl ms,
-- ARGV[5] most messages to promote in one call.
-- Returns {promoted, reclaimed}.
local prefix, at = ARGV[1], ARGV[2]
local now = now_ms()
local interval, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
-- Under maxmemory Redis refuses a script's first write if it may grow memory, and only the
-- first (redis 7.0 src/script.c, scriptVerifyOOM; 6.2 scripting.c, lua_write_dirty): begin
-- with one that cannot (EXPIRE), so a full Redis still gets its retries and lost work moved
-- back to the queue (each move frees as much as it takes).
redis.call('EXPIRE', KEYS[4], 86400)
local last = tonumber(redis.call('HGET', KEYS[4], 'last') or '0')
local grace = tonumber(redis.call('HGET', KEYS[4], 'grace') or '0')
if last > 0 and now - last > 3 * interval + 1000 then
  grace = now + ttl
  redis.call('HSET', KEYS[4], 'grace', grace)
end
redis.call('HSET', KEYS[4], 'last', now)
local promoted = 0
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, ARGV[5])) do
  local src, msg = split(entry)
  redis.call('ZREM', KEYS[3], entry)
  redis.call('RPUSH', src, msg)
  position_returned(prefix, src)
  promoted = promoted + 1
end
local reclaimed = 0
if now >= grace then
  for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 10)) do
    local held = prefix .. 'spillway:held:' .. worker
    for _, tag in ipairs(redis.call('SMEMBERS', held)) do
      local entry = redis.call('HGET', KEYS[2], tag)
      if entry then
        requeue(KEYS[2], prefix, tag, entry, at, worker, 'worker_lost', true)
        reclaimed = reclaimed + 1
      end
    end
    redis.call('DEL', held, prefix .. 'spillway:tasks:' .. worker)
    redis.call('ZREM', KEYS[1], worker)
  end
end
return {promoted, reclaimed}
