-- What the metrics need, in one round trip: per queue the bytes held and the entries held by
-- function and reason; the totals dead-lettered by queue and reason; the entries shed by queue.
-- ARGV[1] prefix. Returns {{queue, bytes, {field, count, ...}}, ...}, totals, shed.
local prefix = ARGV[1]
local queues = {}
for _, queue in ipairs(redis.call('SMEMBERS', prefix .. 'spillway:dlq:queues')) do
  local _, _, _, counts, bytes = dlq_keys(prefix, queue)
  queues[#queues + 1] = {queue, redis.call('GET', bytes) or '0', redis.call('HGETALL', counts)}
end
return {
  queues,
  redis.call('HGETALL', prefix .. 'spillway:dlq:totals'),
  redis.call('HGETALL', prefix .. 'spillway:dlq:shed'),
}
