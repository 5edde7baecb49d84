-- Applies one customer's touchpoints, in order, atomically (customer-common.lua is prepended).
--
-- ARGV[3..]: one JSON per touchpoint: { event_id, occurred_at, channel, touchpoint, journey, stage,
--            outcome, member (timeline member), signals: [{signal_id, type, weight, explanation}] (decided
--            in TypeScript), stateful: signals.ts `StatefulInputs` (this script decides those) }
-- Returns a flat array: for each touchpoint, 'new' or 'duplicate', then the JSON of its outputs
-- {"signals":[Signal…],"alert":Alert|null}; then the customer's earliest timer due time ('' when none),
-- for the global timer index. A touchpoint already in :seen changes nothing and returns the outputs
-- recorded the first time, byte for byte.

-- Forget dedup entries older than the TTL (bounded work per call; the rest go on later calls).
local expired = redis.call('ZRANGEBYSCORE', seen_index_key, '-inf', '(' .. num(cfg.now_ms - cfg.seen_ttl_ms), 'LIMIT', 0, 500)
if #expired > 0 then
  redis.call('HDEL', seen_key, unpack(expired))
  redis.call('ZREM', seen_index_key, unpack(expired))
end

local span = redis.call('HMGET', state_key, 'first_occurred_at', 'last_occurred_at')
local first_at = tonumber(span[1])
local last_at = tonumber(span[2])

local function sorted_keys(map)
  local keys = {}
  for k in pairs(map) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function fmt(x)
  return string.format('%g', x)
end

local replies = {}
local wrote = false

for i = 3, #ARGV do
  local ev = cjson.decode(ARGV[i])
  local event_id = ev.event_id
  local recorded = redis.call('HGET', seen_key, event_id)
  if recorded then
    replies[#replies + 1] = 'duplicate'
    replies[#replies + 1] = recorded
  else
    -- 1. Decide (no writes yet, so an error leaves this event untouched and the batch is retried cleanly).
    local t = ev.occurred_at
    local sf = ev.stateful
    local signals = {}
    for _, s in ipairs(ev.signals) do signals[#signals + 1] = s end
    local fields = {}
    local function set(k, v) fields[#fields + 1] = k; fields[#fields + 1] = v end
    local function fire(p, type, explanation)
      if p.enabled then
        signals[#signals + 1] = { signal_id = p.signal_id, type = type, weight = p.weight, explanation = explanation }
      end
    end

    -- Repeat contact: another customer-initiated contact about the same reason within the window.
    local rp = sf.contact
    if rp then
      local reason = rp.reason
      local last_field, streak_field = 'reason_last_at:' .. reason, 'reason_streak:' .. reason
      local rs = redis.call('HMGET', state_key, last_field, streak_field)
      local reason_last_at, streak = tonumber(rs[1]), tonumber(rs[2]) or 1
      local within = reason_last_at ~= nil and math.abs(t - reason_last_at) <= rp.window_us
      local new_streak = within and streak + 1 or 1
      if within then
        local other = (t >= reason_last_at) and 'previous ' or 'other contact '
        fire(rp, 'repeat_contact', ordinal(new_streak) .. ' contact about ' .. reason .. ' within ' .. rp.window_text
          .. ' (' .. other .. iso_utc(reason_last_at) .. ')')
      end
      if reason_last_at == nil or t >= reason_last_at then
        set(last_field, num(t))
        set(streak_field, num(new_streak))
      elseif within then
        -- A late contact inside the current streak lengthens it; the latest contact time stays.
        set(streak_field, num(new_streak))
      end
    end

    -- Channel hopping: distinct channels of the customer's touchpoints in one journey (or reason) within
    -- the window; fires on the touchpoint whose channel brings the count to the minimum, then not again
    -- for that group until a window after.
    local hop = sf.hop
    if hop then
      local chan_field, fired_field = 'hop:' .. hop.group, 'hop_fired:' .. hop.group
      local hs = redis.call('HMGET', state_key, chan_field, fired_field)
      local seen_at = hs[1] and cjson.decode(hs[1]) or {}
      local fired_at = tonumber(hs[2])
      local prev = tonumber(seen_at[ev.channel])
      local newly_counted = prev == nil or math.abs(t - prev) > hop.window_us
      if prev == nil or t > prev then seen_at[ev.channel] = num(t) end
      local kept, counted = {}, {}
      for _, ch in ipairs(sorted_keys(seen_at)) do
        local at = tonumber(seen_at[ch])
        if math.abs(t - at) <= hop.window_us then counted[#counted + 1] = ch end
        if t - at <= hop.window_us then kept[ch] = seen_at[ch] end
      end
      if newly_counted and #counted >= hop.min and (fired_at == nil or math.abs(t - fired_at) >= hop.window_us) then
        fire(hop, 'channel_hopping', #counted .. ' channels (' .. table.concat(counted, ', ') .. ') in ' .. hop.group
          .. ' within ' .. hop.window_text)
        set(fired_field, num(t))
      end
      set(chan_field, cjson.encode(kept))
    end

    -- Self-service failure followed by an assisted contact: each failure counts for the first assisted
    -- customer contact within the window after it.
    local assisted = sf.assisted
    if assisted then
      local fs = redis.call('HMGET', state_key, 'ssf_at', 'ssf_what', 'ssf_used')
      local failed_at = tonumber(fs[1])
      if failed_at ~= nil and t >= failed_at and t - failed_at <= assisted.window_us and fs[3] ~= fs[1] then
        fire(assisted, 'self_service_failure', ev.channel .. ' contact within ' .. assisted.window_text .. ' after '
          .. fs[2] .. ' (' .. iso_utc(failed_at) .. ')')
        set('ssf_used', fs[1])
      end
    end
    if sf.self_service_failed then
      local failed_at = tonumber(redis.call('HGET', state_key, 'ssf_at'))
      if failed_at == nil or t >= failed_at then
        set('ssf_at', num(t))
        set('ssf_what', ev.touchpoint .. ' ' .. ev.outcome .. ' on ' .. ev.channel)
      end
    end

    -- Sentiment decline: the customer's last `count` sentiments (by event time) each lower than the one
    -- before, first to last dropping by at least min_drop; fires on the newest of them.
    local decline = sf.decline
    if decline then
      local raw = redis.call('HGET', state_key, 'sentiments')
      local hist = raw and cjson.decode(raw) or {}
      local pos = #hist + 1
      while pos > 1 and tonumber(hist[pos - 1][1]) > t do pos = pos - 1 end
      table.insert(hist, pos, { num(t), num(decline.sentiment) })
      local newest = pos == #hist
      while #hist > decline.count do table.remove(hist, 1) end
      if newest and #hist == decline.count then
        local falling = true
        for k = 2, #hist do
          if not (tonumber(hist[k][2]) < tonumber(hist[k - 1][2])) then falling = false; break end
        end
        local first_s, last_s = tonumber(hist[1][2]), tonumber(hist[#hist][2])
        -- The tolerance absorbs binary rounding (0.7 − 0.2 is 0.49999999999999994 in doubles).
        if falling and first_s - last_s >= decline.min_drop - 1e-9 then
          local values = {}
          for k, h in ipairs(hist) do values[k] = fmt(tonumber(h[2])) end
          fire(decline, 'sentiment_decline', 'sentiment fell over ' .. #hist .. ' touchpoints (' .. table.concat(values, ' → ')
            .. '): drop ' .. fmt(first_s - last_s) .. ' ≥ ' .. fmt(decline.min_drop))
        end
      end
      set('sentiments', cjson.encode(hist))
    end

    -- Repeated error: at least `min` error touchpoints within the window; fires on the one reaching it,
    -- then not again until a window after.
    local err = sf.error
    if err then
      local es = redis.call('HMGET', state_key, 'errors', 'errors_fired')
      local times = es[1] and cjson.decode(es[1]) or {}
      local fired_at = tonumber(es[2])
      local kept, n = {}, 1
      for _, a in ipairs(times) do
        local x = tonumber(a)
        if math.abs(t - x) <= err.window_us then n = n + 1 end
        if t - x <= err.window_us then kept[#kept + 1] = a end
      end
      kept[#kept + 1] = num(t)
      while #kept > 200 do table.remove(kept, 1) end
      if n >= err.min and (fired_at == nil or math.abs(t - fired_at) >= err.window_us) then
        fire(err, 'repeated_error', ordinal(n) .. ' error touchpoint (' .. ev.touchpoint .. ') within ' .. err.window_text)
        set('errors_fired', num(t))
      end
      set('errors', cjson.encode(kept))
    end

    local alert = score_signals(t, signals, event_id, fields)
    local outputs = encode_outputs(ev, signals, alert)

    -- 2. Write.
    if first_at == nil or t < first_at then
      first_at = t
      set('first_occurred_at', num(t))
    end
    if last_at == nil or t >= last_at then
      last_at = t
      set('last_occurred_at', num(t))
      set('last_channel', ev.channel)
      set('last_touchpoint', ev.touchpoint)
      set('last_event_id', event_id)
    end
    write_state(fields, signals, alert)
    redis.call('HINCRBY', state_key, 'events', 1)

    -- Journey timers: a completion disarms the journey's timer (unless it already fired); a start arms
    -- one (replacing an unfired timer of the same journey).
    local done = sf.complete
    if done then
      local open_field = 'journey_open:' .. done.journey
      local open_id = redis.call('HGET', state_key, open_field)
      if open_id then
        local raw = redis.call('HGET', timers_key, open_id)
        local tm = raw and cjson.decode(raw)
        if not tm or (tm.outputs == nil and t >= tonumber(tm.started_at)) then
          redis.call('HDEL', timers_key, open_id)
          redis.call('ZREM', due_key, open_id)
          redis.call('HDEL', state_key, open_field)
        end
      end
    end
    local start = sf.start
    if start then
      local open_field = 'journey_open:' .. start.journey
      local open_id = redis.call('HGET', state_key, open_field)
      if open_id and open_id ~= event_id then
        local raw = redis.call('HGET', timers_key, open_id)
        if raw and cjson.decode(raw).outputs == nil then
          redis.call('HDEL', timers_key, open_id)
          redis.call('ZREM', due_key, open_id)
        end
      end
      redis.call('HSET', timers_key, event_id, cjson.encode({
        journey = start.journey, started_at = num(t), due = num(start.due), channel = ev.channel,
        touchpoint = ev.touchpoint, stage = ev.stage, enabled = start.enabled, weight = num(start.weight),
        expected_text = start.expected_text, signal_id = start.signal_id,
      }))
      redis.call('ZADD', due_key, num(start.due), event_id)
      redis.call('HSET', state_key, open_field, event_id)
    end

    redis.call('ZADD', timeline_key, num(t), ev.member)
    redis.call('ZREMRANGEBYRANK', timeline_key, 0, num(-(cfg.timeline_cap + 1)))

    redis.call('HSET', seen_key, event_id, outputs)
    redis.call('ZADD', seen_index_key, num(cfg.now_ms), event_id)
    wrote = true

    replies[#replies + 1] = 'new'
    replies[#replies + 1] = outputs
  end
end

if wrote then
  redis.call('PEXPIRE', seen_key, num(cfg.seen_ttl_ms))
  redis.call('PEXPIRE', seen_index_key, num(cfg.seen_ttl_ms))
end

replies[#replies + 1] = earliest_due()
-- Live churn scoring (§22): the state fields it needs, read here so scoring costs no extra round trip.
if cfg.churn_fields then
  replies[#replies + 1] = cjson.encode(redis.call('HMGET', state_key, unpack(cfg.churn_fields)))
end
return replies
