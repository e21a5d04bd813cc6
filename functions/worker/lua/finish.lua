-- Records a final outcome and settles the delivery in the same step, so no path acks a message
-- whose outcome is not on record. Fenced: only the delivery still in flight may write, so a
-- worker that lost its lease (its messages already went back to the queue) cannot overwrite
-- the newer attempt's record; and a terminal record never changes.
-- KEYS[1] in-flight hash, KEYS[2] record. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker,
-- ARGV[4] tag, ARGV[5] succeeded|failed, ARGV[6] field (result|error), ARGV[7] value,
-- ARGV[8] record ttl, ARGV[9] dead-letter reason ('' for none), ARGV[10] the error as JSON
-- for the dead letter, ARGV[11] dead-letter store bound (entries), ARGV[12] its bound in bytes.
-- Returns 1 recorded, 0 fenced off (not in flight any more), 2 already terminal.
local prefix, at, worker, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
local rk = KEYS[2]
if TERMINAL[redis.call('HGET', rk, 'status')] then return 2 end
redis.call('HSET', rk, 'status', ARGV[5], 'finished_at', at, ARGV[6], ARGV[7])
if ARGV[5] == 'succeeded' then redis.call('HDEL', rk, 'error') end
if ARGV[9] ~= '' then
  local src, msg = split(entry)
  local id = string.match(tag, '^(.+)%.[^.]+$')
  local info = redis.call('HMGET', rk, 'function', 'attempts', 'tenant')
  dead_letter(prefix, src, msg, id, {
    reason = ARGV[9], invocation_id = id, ['function'] = info[1] or nil,
    attempts = tonumber(info[2] or '0'), tenant = info[3] or nil, worker = worker,
    error = cjson.decode(ARGV[10]),
  }, at, ARGV[11], ARGV[12], ARGV[8])
else
  redis.call('EXPIRE', rk, ARGV[8])
end
release_idempotency(rk)
notify(rk, at)
return 1
