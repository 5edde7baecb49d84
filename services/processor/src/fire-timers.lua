-- Fires one customer's journey_not_completed timers that are due (customer-common.lua is prepended).
--
-- ARGV[3]: now (epoch micros, wall clock), ARGV[4]: lease (micros).
-- A due timer fires once: its signal and any alert are decided, the score is updated, and the outputs are
-- recorded on the timer. The timer is not removed here but leased (its due time moved to now + lease):
-- the caller produces the outputs, then acks (ack-timers.lua) to remove it. If the caller dies in between,
-- the lease runs out and the next sweep returns the same recorded outputs again (same ids, same bytes).
-- Two sweepers never fire the same timer: the script is atomic, and a leased timer is not due.
-- Returns a flat array: started event_id, outputs JSON, … ; then the earliest due time left ('' if none).

local now_us = tonumber(ARGV[3])
local lease_us = tonumber(ARGV[4])
local replies = {}
local due_ids = redis.call('ZRANGEBYSCORE', due_key, '-inf', num(now_us), 'LIMIT', 0, 100)
for _, id in ipairs(due_ids) do
  local raw = redis.call('HGET', timers_key, id)
  if not raw then
    redis.call('ZREM', due_key, id)
  else
    local tm = cjson.decode(raw)
    local outputs = tm.outputs
    if outputs == nil then
      local t = tonumber(tm.due)
      local ev = { event_id = id, occurred_at = t, channel = tm.channel, touchpoint = tm.touchpoint,
        journey = tm.journey, stage = tm.stage }
      local signals = {}
      if tm.enabled then
        signals[1] = {
          signal_id = tm.signal_id, type = 'journey_not_completed', weight = tonumber(tm.weight),
          explanation = 'journey ' .. tm.journey .. ' started ' .. iso_utc(tonumber(tm.started_at))
            .. ' not completed within ' .. tm.expected_text,
        }
      end
      local fields = {}
      local alert = score_signals(t, signals, 'timer:' .. id, fields)
      outputs = encode_outputs(ev, signals, alert)
      write_state(fields, signals, alert)
      local open_field = 'journey_open:' .. tm.journey
      if redis.call('HGET', state_key, open_field) == id then redis.call('HDEL', state_key, open_field) end
      tm.outputs = outputs
      redis.call('HSET', timers_key, id, cjson.encode(tm))
    end
    redis.call('ZADD', due_key, num(now_us + lease_us), id)
    replies[#replies + 1] = id
    replies[#replies + 1] = outputs
  end
end
replies[#replies + 1] = earliest_due()
return replies
