-- A sender that stops on purpose gives back what it took and did not settle (to the outbox's
-- right end, next out) and drops its lease, so nothing waits for the lease to expire.
-- KEYS[1] senders, KEYS[2] its processing list, KEYS[3] outbox. ARGV[1] prefix, ARGV[2] sender.
-- Returns the number of items given back.
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #items, 1, -1 do redis.call('RPUSH', KEYS[3], items[i]) end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[2])
return #items
