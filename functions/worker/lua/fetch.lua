-- Takes the next message and records it as in flight, attributed to this worker's lease, in one
-- step: nothing can be lost between the two (kombu's BRPOP then QoS.append take two round
-- trips). BLMOVE/BRPOP may not run inside a script, so the worker waits with a non-destructive
-- BLMOVE (functions/worker/transport.py) and then calls this.
-- KEYS[1] in-flight hash, KEYS[2] leases, KEYS[3..] queue lists in the order to try.
-- ARGV[1] key prefix, ARGV[2] now (seconds), ARGV[3] worker, ARGV[4] random tag suffix,
-- ARGV[5] how many lost deliveries make a message poison.
-- Returns {} when every list is empty, {'lease'} when this worker's lease has expired (it must
-- take a new one: its deliveries now belong to the sweeper), or {kind, tag, queue key, message,
-- ...} with kind 'ok' (+ attempts, submitted_at, retries, lost), 'malformed', 'unknown' (no
-- task of that name in this worker), 'poison' (+ lost: its workers died running it too often;
-- it must be dead-lettered, not run) or 'finished' (a copy of a finished invocation: dropped).
local prefix, at, worker = ARGV[1], ARGV[2], ARGV[3]
local lease = redis.call('ZSCORE', KEYS[2], worker)
if not lease or tonumber(lease) < now_ms() then return {'lease'} end
local raw, src
for i = 3, #KEYS do
  raw = redis.call('RPOP', KEYS[i])
  if raw then
    src = KEYS[i]
    break
  end
end
if not raw then return {} end
position_taken(prefix, src)  -- whatever it turns out to be, it has left the queue
local held = prefix .. 'spillway:held:' .. worker
local ok, message = pcall(cjson.decode, raw)
local headers = ok and type(message) == 'table' and message.headers
local id = type(headers) == 'table' and headers.id
local task = type(headers) == 'table' and headers.task
if type(id) ~= 'string' or type(task) ~= 'string' or id == '' or #id > 200
    or string.find(id, '[%c%s]') then
  local tag = '!' .. ARGV[4]
  redis.call('HSET', KEYS[1], tag, src .. '\n' .. raw)
  redis.call('SADD', held, tag)
  return {'malformed', tag, src, raw}
end
local tag = id .. '.' .. ARGV[4]
local rk = prefix .. 'spillway:inv:' .. id
local status = redis.call('HGET', rk, 'status')
if TERMINAL[status] then return {'finished', tag, src, raw, status} end
redis.call('HSET', KEYS[1], tag, src .. '\n' .. raw)
redis.call('SADD', held, tag)
if redis.call('SISMEMBER', prefix .. 'spillway:tasks:' .. worker, task) == 0 then
  return {'unknown', tag, src, raw}
end
local lost = redis.call('HGET', rk, 'lost') or '0'
if tonumber(lost) >= tonumber(ARGV[5]) then return {'poison', tag, src, raw, lost} end
local attempts = redis.call('HINCRBY', rk, 'attempts', 1)
local fields = redis.call('HMGET', rk, 'submitted_at', 'retries', 'function')
local submitted = fields[1]
if not submitted then
  -- A message from another producer than the API (Celery's send_task, a replay tool): the
  -- record starts now.
  submitted = at
  redis.call('HSET', rk, 'submitted_at', at)
end
if not fields[3] then redis.call('HSET', rk, 'function', task) end
redis.call('HSET', rk, 'status', 'running', 'started_at', at, 'delivery', tag, 'worker', worker)
return {'ok', tag, src, raw, attempts, submitted, fields[2] or '0', lost}
