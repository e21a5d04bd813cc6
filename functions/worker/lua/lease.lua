-- A worker process's lease: every delivery it takes is attributed to it (spillway:held:<worker>)
-- and goes back to the queue when the lease expires (sweep.lua).
--   acquire  a new lease for a new worker id, with the task names it can run (fetch.lua holds
--            back messages for any other task);
--   renew    extend it; 0 when it was already reclaimed, and the worker must take a new one;
--   release  a clean exit: every delivery still held goes back to the head of its queue, not
--            counted as lost.
-- KEYS[1] leases, KEYS[2] in-flight hash. ARGV[1] prefix, ARGV[2] now, ARGV[3] worker,
-- ARGV[4] mode, ARGV[5] ttl ms, ARGV[6..] task names (acquire).
local prefix, at, worker, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local tasks = prefix .. 'spillway:tasks:' .. worker
if mode == 'renew' then
  if not redis.call('ZSCORE', KEYS[1], worker) then return 0 end
  -- ZREM first: a script's first write is refused under maxmemory when it may grow memory
  -- (ZADD may; see sweep.lua), and a worker must keep its lease when Redis is full.
  redis.call('ZREM', KEYS[1], worker)
  redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[5]), worker)
  return 1
elseif mode == 'acquire' then
  redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[5]), worker)
  redis.call('DEL', tasks)
  for i = 6, #ARGV, 500 do
    redis.call('SADD', tasks, unpack(ARGV, i, math.min(i + 499, #ARGV)))
  end
  return 1
end
local held = prefix .. 'spillway:held:' .. worker
local released = 0
for _, tag in ipairs(redis.call('SMEMBERS', held)) do
  local entry = redis.call('HGET', KEYS[2], tag)
  if entry then
    requeue(KEYS[2], prefix, tag, entry, at, worker, 'released', false)
    released = released + 1
  end
end
redis.call('DEL', held, tasks)
redis.call('ZREM', KEYS[1], worker)
return released
