-- Deletes dead letters. The first write frees memory (HDEL), so an operator can make room in a
-- Redis at its maxmemory. A record that still points at a deleted entry says so in its history.
-- ARGV[1] prefix, ARGV[2] now, ARGV[3] who deletes (history), then pairs of queue and id.
-- Returns how many were deleted.
local prefix, at, by = ARGV[1], ARGV[2], ARGV[3]
local deleted = 0
for i = 4, #ARGV, 2 do
  local queue, id = ARGV[i], ARGV[i + 1]
  local raw = forget(prefix, queue, id)
  if raw then
    deleted = deleted + 1
    local invocation = decoded(raw).invocation_id
    if type(invocation) == 'string' then
      local rk = prefix .. 'spillway:inv:' .. invocation
      if redis.call('HGET', rk, 'dead_letter') == queue .. '/' .. id then
        note(rk, 'dead_letter_deleted', at, nil, {by = by})
      end
    end
  end
end
return deleted
