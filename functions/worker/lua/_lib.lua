-- Shared by every in-flight script: the loader puts this file in front of each one.
--
-- Layout (every key already carries SPILLWAY_KEY_PREFIX, passed as ARGV[1]):
--   <queue>                        list   waiting messages; producers LPUSH, workers take the right end
--   unacked[:<pool>]               hash   delivery tag -> "<queue key>\n<message>": taken, not settled
--   spillway:held:<worker>         set    the tags one worker's lease answers for
--   spillway:leases[:<pool>]       zset   worker -> lease deadline (Redis TIME, ms)
--   spillway:scheduled[:<pool>]    zset   "<queue key>\n<message>" -> due time (ms): retries, hold-backs
--   spillway:inv:<id>              hash   the invocation record (functions/records.py)
--   spillway:dlq:<queue>           hash   dead letter id -> JSON entry; ...:index zset by time
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

-- Puts an in-flight entry back at the head of its queue (next out, as kombu restores) and
-- says why in the record, if the record still points at this delivery.
local function requeue(inflight, prefix, tag, entry, at, worker, event, count_lost)
  local src, msg = split(entry)
  redis.call('HDEL', inflight, tag)
  redis.call('SREM', prefix .. 'spillway:held:' .. worker, tag)
  redis.call('RPUSH', src, msg)
  local rk = record_key(prefix, tag)
  if rk and redis.call('HGET', rk, 'delivery') == tag then
    local status = redis.call('HGET', rk, 'status')
    if not TERMINAL[status] then redis.call('HSET', rk, 'status', 'queued') end
    if count_lost then redis.call('HINCRBY', rk, 'lost', 1) end
    note(rk, event, at, worker, nil)
  end
end

-- The queue name inside a queue key: no prefix, no kombu priority suffix ("\6\22" + digit).
local function queue_name(prefix, src)
  local name = string.sub(src, #prefix + 1)
  local sep = string.find(name, '\6\22', 1, true)
  if sep then name = string.sub(name, 1, sep - 1) end
  return name
end

-- Files a message in its queue's dead-letter store, bounded by count (oldest shed first).
-- `id` is the invocation id when known, so a record can point at its dead letter and a second
-- failure of the same invocation replaces the first entry (keeping when it first failed).
local function dead_letter(prefix, src, msg, id, fields, at, max_entries)
  local queue = queue_name(prefix, src)
  local store = prefix .. 'spillway:dlq:' .. queue
  local index = store .. ':index'
  local first = tonumber(at)
  local old = redis.call('HGET', store, id)
  if old then
    local ok, prior = pcall(cjson.decode, old)
    if ok and type(prior) == 'table' and prior.first_failed_at then first = prior.first_failed_at end
  end
  fields.id = id
  fields.queue = queue
  fields.message = msg
  fields.first_failed_at = first
  fields.last_failed_at = tonumber(at)
  redis.call('HSET', store, id, cjson.encode(fields))
  redis.call('ZADD', index, tonumber(at), id)
  local over = redis.call('ZCARD', index) - tonumber(max_entries)
  if over > 0 then
    local shed = redis.call('ZRANGE', index, 0, over - 1)
    for _, old_id in ipairs(shed) do redis.call('HDEL', store, old_id) end
    redis.call('ZREMRANGEBYRANK', index, 0, over - 1)
    redis.call('HINCRBY', prefix .. 'spillway:dlq:shed', queue, over)
  end
  return queue
end

-- Once no invocation an Idempotency-Key names is unfinished, the key starts to expire (its TTL
-- is kept in the key itself, written by the API's submit script).
local function release_idempotency(rk)
  local idem = redis.call('HGET', rk, 'idem')
  if idem and redis.call('HINCRBY', idem, 'pending', -1) <= 0 then
    redis.call('EXPIRE', idem, tonumber(redis.call('HGET', idem, 'ttl') or '86400'))
  end
end

-- Fails an unfinished record for good and points it at its dead letter.
local function fail_record(rk, at, error, dead_letter_ref, ttl)
  if TERMINAL[redis.call('HGET', rk, 'status')] then return end
  redis.call('HSET', rk, 'status', 'failed', 'error', error, 'finished_at', at,
             'dead_letter', dead_letter_ref)
  redis.call('EXPIRE', rk, ttl)
  release_idempotency(rk)
end
