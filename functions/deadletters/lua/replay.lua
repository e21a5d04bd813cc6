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
-- record_expired, not_failed:<status>, elsewhere:<dead letter the record points at>.
local prefix, at, by = ARGV[1], ARGV[2], ARGV[3]

local function replay(queue, id, replacement)
  local raw = redis.call('HGET', prefix .. 'spillway:dlq:' .. queue, id)
  if not raw then return 'missing' end
  local entry = decoded(raw)
  local invocation = entry.invocation_id
  if type(invocation) ~= 'string' then return 'no_invocation' end
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
