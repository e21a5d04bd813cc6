-- Settles one delivery a sender took (functions/sender/outbox.py), in one step: it leaves the
-- sender's processing list and, in the same script, is done, waits for its next attempt, or is
-- dead-lettered; the record's callback state follows. A sender that dies before this ran never
-- settled it: its lease expires and sweep.lua puts the item back (sent again: at least once).
-- Fenced: an item no longer in the list was reclaimed from a sender taken for dead, and the copy
-- put back owns it now, so nothing is written.
-- KEYS[1] the sender's processing list, KEYS[2] the retry set. ARGV[1] prefix, ARGV[2] now
-- (seconds), ARGV[3] the item as taken, ARGV[4] delivered|retry|failed, ARGV[5] the item for
-- its next attempt, ARGV[6] when it is due (ms), ARGV[7] attempts so far, ARGV[8] the
-- receiver's last HTTP status ('' for none), ARGV[9] the last error ('' for none), ARGV[10]
-- the error as JSON for the dead letter, ARGV[11] dead-letter store bound (entries),
-- ARGV[12] its bound in bytes, ARGV[13] record ttl.
-- Returns 0 fenced off, 1 settled.
local prefix, at, item, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('LREM', KEYS[1], 1, item) == 0 then return 0 end
local info = decoded(item)
if outcome == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
elseif outcome == 'failed' then
  -- An item that is not a delivery (pushed by hand) still gets an entry, under its digest.
  local id = info.id or ('junk-' .. redis.sha1hex(item))
  local record = {}
  local flat = info.record or {}
  for i = 1, #flat - 1, 2 do record[flat[i]] = flat[i + 1] end
  dead_letter(prefix, prefix .. 'spillway:outbox', item, id, {
    reason = 'callback_failed', invocation_id = info.invocation,
    ['function'] = record['function'], tenant = record.tenant, attempts = tonumber(ARGV[7]),
    error = cjson.decode(ARGV[10]),
    delivery = {kind = info.kind, id = info.id, url = info.url,
                last_status = tonumber(ARGV[8])},
  }, at, ARGV[11], ARGV[12], ARGV[13])
end
if info.kind == 'callback' and type(info.invocation) == 'string' then
  local rk = prefix .. 'spillway:inv:' .. info.invocation
  -- Only the delivery of the record's latest outcome speaks for it (a replayed invocation
  -- finishes again with a new callback), and an expired record is not brought back.
  if tonumber(redis.call('HGET', rk, 'notified') or '0') == info.n then
    local state = 'pending'
    if outcome == 'delivered' then state = 'delivered' elseif outcome == 'failed' then state = 'failed' end
    redis.call('HSET', rk, 'callback_state', state, 'callback_attempts', ARGV[7])
    if ARGV[8] ~= '' then redis.call('HSET', rk, 'callback_status', ARGV[8])
    else redis.call('HDEL', rk, 'callback_status') end
    if ARGV[9] ~= '' then redis.call('HSET', rk, 'callback_error', ARGV[9])
    else redis.call('HDEL', rk, 'callback_error') end
    if outcome == 'delivered' then redis.call('HSET', rk, 'callback_at', at) end
  end
end
return 1
