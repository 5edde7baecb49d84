#!lua
-- Shared head of the per-customer scripts (apply-touchpoints.lua, fire-timers.lua): processor.ts prepends
-- it to each body, so both update the score, level and alerts the same way. The shebang makes Redis ≥ 7
-- refuse a whole script up front when out of memory instead of failing half-way through its writes.
--
-- KEYS (all one customer's, one Redis Cluster slot): 1 state hash, 2 timeline zset, 3 seen hash,
-- 4 seen index zset, 5 due zset (started event_id → due time, event micros), 6 timers hash
-- (started event_id → JSON of the armed journey_not_completed timer).
-- ARGV[1]: config JSON (processor.ts `scriptConfig`), ARGV[2]: customer_id, ARGV[3..]: per script.
--
-- Numbers: Lua numbers are doubles (exact for epoch micros < 2^53). They are always written with %.17g,
-- which round-trips every double; tostring() and cjson.encode would round to 14 digits (so numbers kept
-- inside JSON in Redis are stored as %.17g strings).

local state_key, timeline_key, seen_key, seen_index_key, due_key, timers_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local cfg = cjson.decode(ARGV[1])
local customer_id = ARGV[2]
local NULL = cjson.null

local LEVELS = { 'none', 'watch', 'at_risk', 'critical' }
local RANK = { none = 1, watch = 2, at_risk = 3, critical = 4 }

local function num(x)
  return string.format('%.17g', x)
end

local function str(s)
  if s == nil or s == NULL then return 'null' end
  return cjson.encode(s)
end

local function is_null(v)
  return v == nil or v == NULL
end

-- Civil date from days since 1970-01-01 (H. Hinnant's algorithm); Redis's Lua has no os.date.
local function iso_utc(micros)
  local secs = math.floor(micros / 1000000)
  local days = math.floor(secs / 86400)
  local sod = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02dZ', y, m, d,
    math.floor(sod / 3600), math.floor((sod % 3600) / 60), sod % 60)
end

local function ordinal(n)
  local suffix = 'th'
  local last_two = n % 100
  if last_two < 11 or last_two > 13 then
    local last = n % 10
    if last == 1 then suffix = 'st' elseif last == 2 then suffix = 'nd' elseif last == 3 then suffix = 'rd' end
  end
  return string.format('%d', n) .. suffix
end

-- ev: { event_id, occurred_at, channel, touchpoint, journey, stage } — the touchpoint (or, for a timer,
-- the `started` touchpoint with occurred_at = the due time) the signal is attached to.
local function encode_signal(ev, s)
  return '{"signal_id":' .. str(s.signal_id)
    .. ',"customer_id":' .. str(customer_id)
    .. ',"type":' .. str(s.type)
    .. ',"weight":' .. num(s.weight)
    .. ',"event_id":' .. str(ev.event_id)
    .. ',"occurred_at":' .. num(ev.occurred_at)
    .. ',"channel":' .. str(ev.channel)
    .. ',"touchpoint":' .. str(ev.touchpoint)
    .. ',"journey":' .. str(ev.journey)
    .. ',"stage":' .. str(ev.stage)
    .. ',"explanation":' .. str(s.explanation)
    .. ',"rules_version":' .. str(cfg.rules_version)
    .. '}'
end

local function encode_alert(ev, alert, signals)
  local parts = {}
  for i, s in ipairs(signals) do
    parts[i] = '{"signal_id":' .. str(s.signal_id) .. ',"type":' .. str(s.type) .. ',"weight":' .. num(s.weight)
      .. ',"event_id":' .. str(ev.event_id) .. ',"explanation":' .. str(s.explanation) .. '}'
  end
  return '{"alert_id":' .. str(alert.alert_id)
    .. ',"customer_id":' .. str(customer_id)
    .. ',"score":' .. num(alert.score)
    .. ',"score_before":' .. num(alert.score_before)
    .. ',"level":' .. str(alert.level)
    .. ',"signals":[' .. table.concat(parts, ',') .. ']'
    .. ',"triggered_by":' .. str(ev.event_id)
    .. ',"at":' .. num(ev.occurred_at)
    .. ',"rules_version":' .. str(cfg.rules_version)
    .. ',"journey":' .. str(ev.journey) .. ',"channel":' .. str(ev.channel)
    .. '}'
end

-- {"signals":[…],"alert":…|null}: what a touchpoint (or a fired timer) produced, recorded and returned.
local function encode_outputs(ev, signals, alert)
  local signal_json = {}
  for k, s in ipairs(signals) do signal_json[k] = encode_signal(ev, s) end
  return '{"signals":[' .. table.concat(signal_json, ',') .. '],"alert":'
    .. (alert and encode_alert(ev, alert, signals) or 'null') .. '}'
end

local function earliest_due()
  local first = redis.call('ZRANGE', due_key, 0, 0, 'WITHSCORES')
  return first[2] or ''
end

local st = redis.call('HMGET', state_key, 'score', 'score_at', 'level', 'last_alert_at', 'last_alert_level')
-- Missing hash fields come back as false; tonumber(false) is nil.
local score = tonumber(st[1]) or 0
local score_at = tonumber(st[2])
local rank = RANK[st[3] or 'none'] or 1
local last_alert_at = tonumber(st[4])
local last_alert_rank = st[5] and RANK[st[5]] or nil

-- Adds the signals' weight at event time t to the score and decides the level and the alert (nil when
-- none). Updates the script's score state and appends the hash fields to write to `fields`; writes nothing.
-- alert_key identifies the trigger in the alert id (the event_id, or 'timer:' .. event_id).
local function score_signals(t, signals, alert_key, fields)
  -- Decay to the later of (event time, score time) — never backwards — then add the weight, itself
  -- decayed to score_at when the event is older than the score.
  local weight = 0
  for _, s in ipairs(signals) do weight = weight + s.weight end
  local ref = t
  if score_at ~= nil and score_at > t then ref = score_at end
  local before = score
  if score_at ~= nil and ref > score_at then before = score * 2 ^ (-(ref - score_at) / cfg.half_life_us) end
  local after = before
  if weight > 0 then
    if ref > t then after = before + weight * 2 ^ (-(ref - t) / cfg.half_life_us) else after = before + weight end
  end

  -- Level with hysteresis: leave a level only below exit_ratio × its threshold.
  while rank > 1 and before < cfg.thresholds[LEVELS[rank]] * cfg.exit_ratio do rank = rank - 1 end
  local target = 1
  for r = 4, 2, -1 do
    if after >= cfg.thresholds[LEVELS[r]] then target = r; break end
  end
  local alert = nil
  if target > rank then
    local live = t >= cfg.alert_after_us
    local cooling = last_alert_at ~= nil and last_alert_rank ~= nil and target <= last_alert_rank
      and math.abs(t - last_alert_at) < cfg.cooldown_us
    if live and not cooling then
      local level = LEVELS[target]
      alert = {
        alert_id = string.sub(redis.sha1hex(customer_id .. '\0' .. alert_key .. '\0' .. level), 1, 32),
        level = level, score = after, score_before = before,
      }
    end
    -- Backfill and cooldown suppress the alert, not the level: the level always follows the score.
    rank = target
  end

  score, score_at = after, ref
  fields[#fields + 1] = 'score'; fields[#fields + 1] = num(score)
  fields[#fields + 1] = 'score_at'; fields[#fields + 1] = num(score_at)
  fields[#fields + 1] = 'level'; fields[#fields + 1] = LEVELS[rank]
  if alert then
    last_alert_at, last_alert_rank = t, rank
    fields[#fields + 1] = 'last_alert_id'; fields[#fields + 1] = alert.alert_id
    fields[#fields + 1] = 'last_alert_at'; fields[#fields + 1] = num(t)
    fields[#fields + 1] = 'last_alert_level'; fields[#fields + 1] = alert.level
  end
  return alert
end

-- Writes one decision's fields and counters.
local function write_state(fields, signals, alert)
  redis.call('HSET', state_key, unpack(fields))
  if #signals > 0 then redis.call('HINCRBY', state_key, 'signals', #signals) end
  -- Per type too: features of the churn model (docs/architecture.md §22).
  for _, s in ipairs(signals) do redis.call('HINCRBY', state_key, 'signals:' .. s.type, 1) end
  if alert then redis.call('HINCRBY', state_key, 'alerts', 1) end
end

