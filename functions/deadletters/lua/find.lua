-- Finds a dead letter by id: ids are invocation ids (or random), unique in practice, so the
-- queue need not be named; an id found in more than one queue is reported as such.
-- ARGV[1] prefix, ARGV[2] queue ('' for every queue), ARGV[3] id.
-- Returns {queue, entry JSON, ...} for each queue that holds it.
local prefix, id = ARGV[1], ARGV[3]
local queues = {ARGV[2]}
if ARGV[2] == '' then queues = redis.call('SMEMBERS', prefix .. 'spillway:dlq:queues') end
local found = {}
for _, queue in ipairs(queues) do
  local entry = redis.call('HGET', prefix .. 'spillway:dlq:' .. queue, id)
  if entry then
    found[#found + 1] = queue
    found[#found + 1] = entry
  end
end
return found
