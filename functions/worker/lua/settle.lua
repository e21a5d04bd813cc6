-- Settles one delivery when Celery acks or rejects it (functions/worker/transport.py, QoS).
-- A task settles its own delivery when it records the outcome (finish.lua, retry.lua), so
-- this usually finds nothing. When it finds the entry:
--   ack      the outcome is on record: drop the entry. It is not (the task could not write it,
--            or Celery acked on its own account): put the message back rather than lose it.
--   requeue  put the message back at the head of its queue.
-- KEYS[1] in-flight hash. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker, ARGV[4] tag,
-- ARGV[5] ack|requeue, ARGV[6] event for the record's history, ARGV[7] '1' to count the
-- delivery as lost (its worker process died running it).
-- Returns 0 nothing to settle (fenced off or settled already), 1 dropped, 2 put back.
local prefix, at, worker, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry = redis.call('HGET', KEYS[1], tag)
if not entry then return 0 end
local event = ARGV[6]
if ARGV[5] == 'ack' then
  local rk = record_key(prefix, tag)
  if not rk or TERMINAL[redis.call('HGET', rk, 'status')] then
    redis.call('HDEL', KEYS[1], tag)
    redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
    return 1
  end
  event = 'unrecorded'
end
requeue(KEYS[1], prefix, tag, entry, at, worker, event, ARGV[7] == '1')
return 2
