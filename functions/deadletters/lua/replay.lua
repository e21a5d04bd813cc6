-- Replays dead letters as new attempts of the same invocation (the producer holds its id: the
-- status URL, the Idempotency-Key). Only an entry whose record is `failed` and points at it may
-- be replayed, so nothing runs twice because an entry was replayed twice, or replayed after
-- its invocation ran again some other way. Each entry is checked and replayed atomically:
--   the message (or its corrected replacement) goes back on its queue, at the tail like a new
--   submission; the record is `queued` again and unfinished (no TTL; its Idempotency-Key counts
--   it as pending again), keeps its attempts and starts a new round of retries, poison and
--   hold-back counting; its history gains a `replayed` event carrying the previous error; and
--   the dead letter is removed (its first write, so this works under maxmemory too).
-- ARGV[1] prefix, ARGV[2] now, ARGV[3] who replays (history), then per entry three arguments:
-- queue, id and a replacement message ('' to send the original).
-- Returns one code per entry: replayed, missing, no_invocation, truncated, needs_payload,
-- record_expired, not_failed:<status>, elsewhere:<dead letter the record points at>,
-- delivery_payload (a payload for an undelivered callback or event).
local prefix, at, by = ARGV[1], ARGV[2], ARGV[3]

-- A callback or completion event that was not delivered (reason callback_failed): the same
-- delivery (same id, same signed body) goes back to the outbox with its attempts and deadline
-- started afresh; the invocation itself is not run again, whatever its status.
local function redeliver(queue, id, entry, replacement)
  if replacement ~= '' then return 'delivery_payload' end
  if entry.truncated then return 'truncated' end
  local item = decoded(entry.message)
  if not item.kind then return 'no_invocation' end
  item.attempts, item.at, item.last_status, item.last_error = 0, tonumber(at), nil, nil
  forget(prefix, queue, id)
  redis.call('LPUSH', prefix .. 'spillway:outbox', cjson.encode(item))
  local rk = prefix .. 'spillway:inv:' .. entry.invocation_id
  if item.kind == 'callback' and tonumber(redis.call('HGET', rk, 'notified') or '0') == item.n then
    redis.call('HSET', rk, 'callback_state', 'pending', 'callback_attempts', 0)
    redis.call('HDEL', rk, 'callback_status', 'callback_error', 'callback_at')
  end
  if redis.call('EXISTS', rk) == 1 then
    note(rk, 'redelivery', at, nil, {kind = item.kind, dead_letter = queue .. '/' .. id, by = by})
  end
  return 'replayed'
end

local function replay(queue, id, replacement)
  local raw = redis.call('HGET', prefix .. 'spillway:dlq:' .. queue, id)
  if not raw then return 'missing' end
  local entry = decoded(raw)
  local invocation = entry.invocation_id
  if type(invocation) ~= 'string' then return 'no_invocation' end
  if entry.delivery then return redeliver(queue, id, entry, replacement) end
  if replacement == '' then
    if entry.truncated then return 'truncated' end
    -- The same message would be refused again at once.
    if entry.reason == 'malformed' or entry.reason == 'expired' then return 'needs_payload' end
  end
  local rk = prefix .. 'spillway:inv:' .. invocation
  local info = redis.call('HMGET', rk, 'status', 'dead_letter', 'error', 'idem')
  if not info[1] then return 'record_expired' end
  if info[1] ~= 'failed' then return 'not_failed:' .. info[1] end
  local ref = queue .. '/' .. id
  if info[2] ~= ref then return 'elsewhere:' .. (info[2] or '') end
  forget(prefix, queue, id)
  redis.call('LPUSH', prefix .. queue, replacement ~= '' and replacement or entry.message)
  redis.call('HSET', rk, 'status', 'queued')
  redis.call('HDEL', rk, 'finished_at', 'error', 'result', 'dead_letter', 'retries', 'retry_at',
             'lost', 'held_since')
  redis.call('PERSIST', rk)
  local idem = info[4]
  if idem and redis.call('EXISTS', idem) == 1 then
    redis.call('HINCRBY', idem, 'pending', 1)
    redis.call('PERSIST', idem)
  end
  note(rk, 'replayed', at, nil, {
    error = info[3], reason = entry.reason, dead_letter = ref, by = by,
    payload = replacement ~= '' and 'corrected' or 'original',
  })
  return 'replayed'
end

local codes = {}
for i = 4, #ARGV, 3 do codes[#codes + 1] = replay(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
return codes
