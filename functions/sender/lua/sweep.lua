-- Run by every sender about once a second: renews its lease, moves due retries back to the
-- outbox, and gives back what senders whose lease expired had taken (killed, OOM, lost node)
-- to the outbox's right end, the next to be taken.
-- KEYS[1] senders (zset), KEYS[2] retry set, KEYS[3] outbox. ARGV[1] prefix, ARGV[2] this
-- sender ('' to renew nothing), ARGV[3] lease ttl ms, ARGV[4] most retries to promote.
-- Returns {promoted, reclaimed}.
local prefix, me = ARGV[1], ARGV[2]
local now = now_ms()
if me ~= '' then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), me) end
local promoted = 0
for _, item in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, ARGV[4])) do
  redis.call('ZREM', KEYS[2], item)
  redis.call('RPUSH', KEYS[3], item)
  promoted = promoted + 1
end
local reclaimed = 0
for _, sender in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 10)) do
  local processing = prefix .. 'spillway:outbox:processing:' .. sender
  for _, item in ipairs(redis.call('LRANGE', processing, 0, -1)) do
    redis.call('RPUSH', KEYS[3], item)
    reclaimed = reclaimed + 1
  end
  redis.call('DEL', processing)
  redis.call('ZREM', KEYS[1], sender)
end
return {promoted, reclaimed}
