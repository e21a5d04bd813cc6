-- Shared by every in-flight script: the loader puts this file in front of each one.
--
-- Layout (every key already carries SPILLWAY_KEY_PREFIX, passed as ARGV[1]):
--   <queue>                        list   waiting messages; producers LPUSH, workers take the right end
--   unacked[:<pool>]               hash   delivery tag -> "<queue key>\n<message>": taken, not settled
--   spillway:held:<worker>         set    the tags one worker's lease answers for
--   spillway:leases[:<pool>]       zset   worker -> lease deadline (Redis TIME, ms)
--   spillway:scheduled[:<pool>]    zset   "<queue key>\n<message>" -> due time (ms): retries, hold-backs
--   spillway:inv:<id>              hash   the invocation record (functions/records.py)
--   spillway:tenant:<t>:backlog    string a tenant's unfinished invocations (release_share)
--   spillway:dlq:<queue>           hash   dead letter id -> JSON entry (functions/deadletters/)
--   spillway:dlq:<queue>:index     zset   dead letter id -> last failure time: shed oldest, list newest
--   spillway:dlq:<queue>:summary   hash   dead letter id -> the entry without message and traceback
--   spillway:dlq:<queue>:counts    hash   "<function>\t<reason>" -> entries held (metrics)
--   spillway:dlq:<queue>:bytes     string bytes held by the entries and their summaries
--   spillway:dlq:queues            set    queues that have had a dead letter
--   spillway:dlq:totals            hash   "<queue>\t<reason>" -> messages ever dead-lettered
--   spillway:dlq:shed              hash   queue -> entries shed to stay within the bounds
--   spillway:pos:<queue>           hash   in, out: messages enqueued and taken (less those put
--                                         back), w_at, w_n, drained, rate, rate_at: the drain rate
--                                         (functions/api/position.py; `position_*` below)
--   spillway:outbox                list   callbacks and completion events to send (notify below)
--   spillway:outbox:events         string present: queue a completion event per finished invocation
-- (so a queue may not be named `queues`, `totals` or `shed`.)
-- A delivery tag is "<invocation id>.<random>" (or "!<random>" when the message has no id), new
-- for every delivery, so a late settle of an old delivery never touches a newer one.

local TERMINAL = {succeeded = true, failed = true, cancelled = true}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(entry)
  local nl = string.find(entry, '\n', 1, true)
  return string.sub(entry, 1, nl - 1), string.sub(entry, nl + 1)
end

local function record_key(prefix, tag)
  local id = string.match(tag, '^(.+)%.[^.]+$')
  if id and string.sub(tag, 1, 1) ~= '!' then return prefix .. 'spillway:inv:' .. id end
  return nil
end

-- Appends an event to the record's history (the last 20 are kept).
local function note(rk, event, at, worker, detail)
  local h = redis.call('HGET', rk, 'history')
  local list = {}
  if h then
    local ok, decoded = pcall(cjson.decode, h)
    if ok and type(decoded) == 'table' then list = decoded end
  end
  list[#list + 1] = {event = event, at = tonumber(at), worker = worker, detail = detail}
  while #list > 20 do table.remove(list, 1) end
  redis.call('HSET', rk, 'history', cjson.encode(list))
end

-- The queue name inside a queue key: no prefix, no kombu priority suffix ("\6\22" + digit).
local function queue_name(prefix, src)
  local name = string.sub(src, #prefix + 1)
  local sep = string.find(name, '\6\22', 1, true)
  if sep then name = string.sub(name, 1, sep - 1) end
  return name
end

-- Queue positions (functions/api/position.py). A queued invocation's position is its `seq` (the
-- queue's `in` count when it was enqueued, written by the submit scripts) minus the queue's
-- `out`: messages taken from it, less those put back at its head (requeued deliveries, due
-- retries), which will be taken again. O(1) per message; the list itself is never scanned.
-- The drain rate is measured only while the queue has a backlog: a window opens at a fetch that
-- follows one which left the queue empty (idle time is not draining), and closes after 5 s,
-- giving `rate` in messages per second.
local function position_key(prefix, src)
  return prefix .. 'spillway:pos:' .. queue_name(prefix, src)
end

local function position_taken(prefix, src)
  local key = position_key(prefix, src)
  local now = now_ms()
  redis.call('HINCRBY', key, 'out', 1)
  local w = redis.call('HMGET', key, 'w_at', 'w_n', 'drained')
  local left = redis.call('LLEN', src)
  if not w[1] or w[3] == '1' then
    redis.call('HSET', key, 'w_at', now, 'w_n', 0, 'drained', left == 0 and '1' or '0')
    return
  end
  local span, n = now - tonumber(w[1]), tonumber(w[2]) + 1
  if span >= 5000 then
    redis.call('HSET', key, 'rate', string.format('%.4f', n * 1000 / span), 'rate_at', now,
               'w_at', now, 'w_n', 0)
  else
    redis.call('HSET', key, 'w_n', n)
  end
  redis.call('HSET', key, 'drained', left == 0 and '1' or '0')
end

local function position_returned(prefix, src)
  redis.call('HINCRBY', position_key(prefix, src), 'out', -1)
end

-- Puts an in-flight entry back at the head of its queue (next out, as kombu restores) and
-- says why in the record, if the record still points at this delivery.
local function requeue(inflight, prefix, tag, entry, at, worker, event, count_lost)
  local src, msg = split(entry)
  redis.call('HDEL', inflight, tag)
  redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
  redis.call('RPUSH', src, msg)
  position_returned(prefix, src)
  local rk = record_key(prefix, tag)
  if rk and redis.call('HGET', rk, 'delivery') == tag then
    local status = redis.call('HGET', rk, 'status')
    if not TERMINAL[status] then redis.call('HSET', rk, 'status', 'queued') end
    if count_lost then redis.call('HINCRBY', rk, 'lost', 1) end
    note(rk, event, at, worker, nil)
  end
end

local function dlq_keys(prefix, queue)
  local store = prefix .. 'spillway:dlq:' .. queue
  return store, store .. ':index', store .. ':summary', store .. ':counts', store .. ':bytes'
end

local function decoded(text)
  local ok, value = pcall(cjson.decode, text or '')
  if ok and type(value) == 'table' then return value end
  return {}
end

-- Removes one dead letter and what accounts for it; returns its JSON entry, or nil if there was
-- none. The first write frees memory (HDEL), so an operator can always make room.
local function forget(prefix, queue, id)
  local store, index, summary, counts, bytes = dlq_keys(prefix, queue)
  local entry = redis.call('HGET', store, id)
  if not entry then return nil end
  redis.call('HDEL', store, id)
  redis.call('ZREM', index, id)
  local brief = redis.call('HGET', summary, id)
  if brief then  -- entries filed before the summary existed were never counted
    local info = decoded(brief)
    redis.call('HDEL', summary, id)
    redis.call('HINCRBY', counts, (info['function'] or '') .. '\t' .. (info.reason or ''), -1)
    redis.call('DECRBY', bytes, #entry + #brief)
  end
  -- A failed record is kept while its dead letter exists (an operator may replay it days
  -- later); once the entry is gone (deleted, purged, shed or replaced) the record's own TTL
  -- starts. A replay makes the record unfinished again right after (replay.lua).
  local invocation = decoded(entry).invocation_id
  if type(invocation) == 'string' then
    local rk = prefix .. 'spillway:inv:' .. invocation
    local fields = redis.call('HMGET', rk, 'status', 'dead_letter', 'ttl')
    if fields[1] == 'failed' and fields[2] == queue .. '/' .. id then
      redis.call('EXPIRE', rk, tonumber(fields[3] or '86400'))
    end
  end
  return entry
end

-- Files a message in its queue's dead-letter store, bounded by count and by bytes (oldest shed
-- first, never the entry just filed; a message longer than half the byte bound is cut to it and
-- marked truncated). `id` is the invocation id when known, so a record can point at its dead
-- letter and a second failure of the same invocation replaces the first entry (keeping when it
-- first failed). Counts by function and reason, bytes and totals are kept here, in Redis, so
-- metrics are exact whichever process reads them. `max_bytes` 0: no byte bound. The record of
-- a dead-lettered invocation points at its entry and does not expire while the entry exists;
-- `record_ttl` is the TTL it gets once the entry is gone.
local function dead_letter(prefix, src, msg, id, fields, at, max_entries, max_bytes, record_ttl)
  local queue = queue_name(prefix, src)
  local store, index, summary, counts, bytes = dlq_keys(prefix, queue)
  max_entries, max_bytes = tonumber(max_entries), tonumber(max_bytes or '0')
  local first = tonumber(at)
  local prior = forget(prefix, queue, id)
  if prior then first = decoded(prior).first_failed_at or first end
  local keep = math.floor(max_bytes / 2)
  if max_bytes > 0 and #msg > keep then
    fields.truncated = true
    fields.message_bytes = #msg
    msg = string.sub(msg, 1, keep)
  end
  fields.id = id
  fields.queue = queue
  fields.message = msg
  fields.first_failed_at = first
  fields.last_failed_at = tonumber(at)
  local error = fields.error or {}
  local entry = cjson.encode(fields)
  local brief = cjson.encode({
    id = id, invocation_id = fields.invocation_id, ['function'] = fields['function'],
    queue = queue, reason = fields.reason, error = {type = error.type, message = error.message},
    attempts = fields.attempts, first_failed_at = first, last_failed_at = tonumber(at),
    truncated = fields.truncated,
  })
  redis.call('HSET', store, id, entry)
  redis.call('HSET', summary, id, brief)
  redis.call('ZADD', index, tonumber(at), id)
  redis.call('HINCRBY', counts, (fields['function'] or '') .. '\t' .. fields.reason, 1)
  redis.call('INCRBY', bytes, #entry + #brief)
  redis.call('SADD', prefix .. 'spillway:dlq:queues', queue)
  redis.call('HINCRBY', prefix .. 'spillway:dlq:totals', queue .. '\t' .. fields.reason, 1)
  local shed = 0
  while true do
    local held = redis.call('ZCARD', index)
    local over_bytes = max_bytes > 0 and tonumber(redis.call('GET', bytes) or '0') > max_bytes
    if held <= 1 or (held <= max_entries and not over_bytes) then break end
    local oldest = redis.call('ZRANGE', index, 0, 1)
    local victim = oldest[1] ~= id and oldest[1] or oldest[2]
    if not forget(prefix, queue, victim) then redis.call('ZREM', index, victim) end
    shed = shed + 1
  end
  if shed > 0 then redis.call('HINCRBY', prefix .. 'spillway:dlq:shed', queue, shed) end
  if type(fields.invocation_id) == 'string' then
    -- Kept while the dead letter exists: `forget` starts the record's TTL, kept here. A record
    -- that finished otherwise (a stray copy of a succeeded invocation) is left alone.
    local rk = prefix .. 'spillway:inv:' .. fields.invocation_id
    local status = redis.call('HGET', rk, 'status')
    -- A failed delivery of a callback (fields.delivery) is not the invocation's own dead
    -- letter: the record keeps pointing at the one its failure filed, if any.
    if status ~= 'succeeded' and status ~= 'cancelled' and not fields.delivery then
      redis.call('HSET', rk, 'ttl', record_ttl, 'dead_letter', queue .. '/' .. id)
      redis.call('PERSIST', rk)
    end
  end
  return queue
end

-- An invocation submitted with an API key counts in its tenant's backlog until it finishes:
-- the submit script named the counter in the record's `share` field (functions/api/quotas.py).
-- The field goes with the first release, so a replayed invocation that fails again, or a
-- second path to a final state, never takes it away twice.
local function release_share(rk)
  local share = redis.call('HGET', rk, 'share')
  if share then
    redis.call('HDEL', rk, 'share')
    -- DECRBY and INCRBY: commands the worker's Redis user has (functions/acl/commands.py).
    local left = redis.call('DECRBY', share, 1)
    if left < 0 then redis.call('INCRBY', share, -left) end
  end
end

-- Once no invocation an Idempotency-Key names is unfinished, the key starts to expire (its TTL
-- is kept in the key itself, written by the API's submit script). Every path that finishes an
-- invocation passes here, so it also gives the invocation's place in its tenant's share back.
local function release_idempotency(rk)
  release_share(rk)
  local idem = redis.call('HGET', rk, 'idem')
  if idem and redis.call('HINCRBY', idem, 'pending', -1) <= 0 then
    redis.call('EXPIRE', idem, tonumber(redis.call('HGET', idem, 'ttl') or '86400'))
  end
end

-- Queues what a finished invocation owes the outside world: its callback (the record's
-- `callback`, from X-Callback-Url) and, while a sender has an events sink, a completion event.
-- Called by every script that writes a final outcome, in that same script, so no outcome is on
-- record with its callback forgotten; `spillway sender` delivers them (functions/sender/).
-- Each item carries a snapshot of the record, so every retry sends the same body whatever
-- happens to the record meanwhile (it may expire), and a delivery id that is the same on every
-- retry and new for every outcome (a replayed invocation finishes again: a new callback).
local function notify(rk, at)
  local prefix = string.match(rk, '^(.*)spillway:inv:')
  local url = redis.call('HGET', rk, 'callback')
  local events = redis.call('EXISTS', prefix .. 'spillway:outbox:events') == 1
  if not url and not events then return end
  local id = string.sub(rk, #prefix + 14)
  local seq = redis.call('HINCRBY', rk, 'notified', 1)
  local record = redis.call('HGETALL', rk)
  local outbox = prefix .. 'spillway:outbox'
  if url then
    redis.call('HSET', rk, 'callback_state', 'pending', 'callback_attempts', 0)
    redis.call('HDEL', rk, 'callback_status', 'callback_error', 'callback_at')
    redis.call('LPUSH', outbox, cjson.encode({
      kind = 'callback', id = id .. '-' .. seq, n = seq, invocation = id, url = url,
      at = tonumber(at), attempts = 0, record = record,
    }))
  end
  if events then
    redis.call('LPUSH', outbox, cjson.encode({
      kind = 'event', id = id .. '-' .. seq .. '-event', n = seq, invocation = id,
      at = tonumber(at), attempts = 0, record = record,
    }))
  end
end

-- Fails an unfinished record for good (its dead letter, filed first, keeps it: dead_letter()).
local function fail_record(rk, at, error)
  if TERMINAL[redis.call('HGET', rk, 'status')] then return end
  redis.call('HSET', rk, 'status', 'failed', 'error', error, 'finished_at', at)
  release_idempotency(rk)
  notify(rk, at)
end
