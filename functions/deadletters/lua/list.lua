-- Lists dead letters: queues in name order, each newest first, those matching the function and
-- reason filters. Bounded work: at most ARGV[6] entries are examined per call, so a sparse
-- filter over a large store answers a short page and a cursor rather than holding Redis up.
-- Reads only summaries (never the messages), which dead_letter() files beside each entry.
-- ARGV[1] prefix, ARGV[2] queue ('' for every queue), ARGV[3] function ('' any), ARGV[4] reason
-- ('' any), ARGV[5] most items, ARGV[6] most entries to examine, ARGV[7..9] the cursor: queue,
-- score and id of the last entry examined ('' to start).
-- Returns {items (summary JSON), next queue, next score, next id}; next queue '' when done.
local prefix = ARGV[1]
local fn, reason = ARGV[3], ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local cq, cs, cid = ARGV[7], ARGV[8], ARGV[9]
local queues = {ARGV[2]}
if ARGV[2] == '' then
  queues = redis.call('SMEMBERS', prefix .. 'spillway:dlq:queues')
  table.sort(queues)
end
local items, examined = {}, 0
local last = {'', '', ''}
for _, queue in ipairs(queues) do
  if cq == '' or queue >= cq then
    local store, index, summary = dlq_keys(prefix, queue)
    local top, resume = '+inf', queue == cq
    if resume then top = cs end
    local offset = 0
    while true do
      local batch = redis.call('ZREVRANGEBYSCORE', index, top, '-inf', 'WITHSCORES', 'LIMIT',
                               offset, 100)
      if #batch == 0 then break end
      offset = offset + #batch / 2
      for i = 1, #batch, 2 do
        local id, score = batch[i], batch[i + 1]
        -- Equal scores come in reverse order of id: those from the cursor's id up were seen.
        if not (resume and tonumber(score) == tonumber(cs) and id >= cid) then
          if #items >= limit or examined >= budget then
            return {items, last[1], last[2], last[3]}
          end
          examined = examined + 1
          last = {queue, score, id}
          local brief = redis.call('HGET', summary, id)
          local info = decoded(brief or redis.call('HGET', store, id))
          if (fn == '' or info['function'] == fn) and (reason == '' or info.reason == reason) then
            if not brief then
              info.message, info.tenant, info.worker = nil, nil, nil
              if type(info.error) == 'table' then info.error.traceback = nil end
              brief = cjson.encode(info)
            end
            items[#items + 1] = brief
          end
        end
      end
    end
  end
end
return {items, '', '', ''}
