-- Dead-letters a delivery that must not run: a message that is not a valid task (reason
-- malformed), or one whose workers keep dying while running it (reason poison). It never
-- reaches Celery, and the worker keeps consuming. When the message names an invocation, its
-- record fails and points at the dead letter.
-- KEYS[1] in-flight hash. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker, ARGV[4] tag,
-- ARGV[5] reason, ARGV[6] error as JSON ({type, message}), ARGV[7] dead-letter store bound,
-- ARGV[8] record ttl, ARGV[9] the error line for the record, ARGV[10] the store's bound in bytes.
-- Returns 0 fenced off, 1 dead-lettered.
local prefix, at, worker, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
local src, msg = split(entry)
local rk = record_key(prefix, tag)
local id = rk and string.match(tag, '^(.+)%.[^.]+$') or string.sub(tag, 2)
local fields = {reason = ARGV[5], worker = worker, error = cjson.decode(ARGV[6])}
if rk then
  local info = redis.call('HMGET', rk, 'function', 'attempts', 'tenant')
  fields.invocation_id = id
  fields['function'] = info[1] or nil
  fields.attempts = tonumber(info[2] or '0')
  fields.tenant = info[3] or nil
end
dead_letter(prefix, src, msg, id, fields, at, ARGV[7], ARGV[10], ARGV[8])
if rk then fail_record(rk, at, ARGV[9]) end
return 1
