-- Cancels an invocation that has not started: `queued`, or `retrying` (waiting out a backoff in
-- the scheduled set). Its record becomes `cancelled`, a final status, and nothing else moves:
-- the message stays where it is (its queue list, or the scheduled set) and is dropped unrun
-- when a worker reaches it, since fetch.lua settles every message of a finished record without
-- running it ('finished'). That keeps this O(1) (no scan of a list that may hold 10000
-- messages) and leaves KEDA's backlog count as it is: the skipped message is counted until a
-- worker takes it, which costs that worker one fetch. Runs after _lib.lua (TERMINAL, note,
-- release_idempotency, notify).
-- A running invocation of a function that opted in (`interruptible`, ARGV[6] '1') is asked to
-- stop instead: `cancel_requested` in its record, which the process running it watches
-- (functions/worker/interrupt.py); it records `cancelled` itself when it stops.
-- ARGV[1] prefix, ARGV[2] invocation id, ARGV[3] now, ARGV[4] record TTL, ARGV[5] who cancels,
-- ARGV[6] '1' when its function is interruptible.
-- Returns {'cancelled'}, {'cancelling'} (asked to stop), or {status} when it cannot be
-- cancelled ('missing': no record).
local rk = ARGV[1] .. 'spillway:inv:' .. ARGV[2]
local status = redis.call('HGET', rk, 'status')
if not status then return {'missing'} end
if status == 'running' and ARGV[6] == '1' then
  if not redis.call('HGET', rk, 'cancel_requested') then
    redis.call('HSET', rk, 'cancel_requested', ARGV[3])
    note(rk, 'cancel_requested', ARGV[3], nil, {by = ARGV[5]})
  end
  return {'cancelling'}
end
if status ~= 'queued' and status ~= 'retrying' then return {status} end
redis.call('HSET', rk, 'status', 'cancelled', 'finished_at', ARGV[3])
note(rk, 'cancelled', ARGV[3], nil, {by = ARGV[5], was = status})
release_idempotency(rk)
-- A cancel is a final outcome like the others: its callback and completion event (notify).
notify(rk, ARGV[3])
redis.call('EXPIRE', rk, tonumber(ARGV[4]))
return {'cancelled'}
