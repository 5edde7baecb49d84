#!lua
-- Applies one customer's touchpoints, in order, atomically (the shebang makes Redis ≥ 7 refuse the whole
-- script up front when out of memory instead of failing half-way through its writes).
--
-- KEYS: 1 state hash, 2 timeline zset, 3 seen hash, 4 seen index zset — all one customer's (one slot).
-- ARGV[1]: config JSON (see processor.ts `scriptConfig`), ARGV[2]: customer_id,
-- ARGV[3..]: one JSON per touchpoint: { event_id, occurred_at, channel, touchpoint, journey, stage,
--            member (timeline member), signals: [{signal_id, type, weight, explanation}],
--            contact_reason (string|null), repeat_signal_id }
-- Returns a flat array: for each touchpoint, 'new' or 'duplicate', then the JSON of its outputs
-- {"signals":[Signal…],"alert":Alert|null}. A touchpoint already in :seen changes nothing and returns the
-- outputs recorded the first time, byte for byte.
--
-- Numbers: Lua numbers are doubles (exact for epoch micros < 2^53). They are always written with %.17g,
-- which round-trips every double; tostring() and cjson.encode would round to 14 digits.

local state_key, timeline_key, seen_key, seen_index_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
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

-- Forget dedup entries older than the TTL (bounded work per call; the rest go on later calls).
local expired = redis.call('ZRANGEBYSCORE', seen_index_key, '-inf', '(' .. num(cfg.now_ms - cfg.seen_ttl_ms), 'LIMIT', 0, 500)
if #expired > 0 then
  redis.call('HDEL', seen_key, unpack(expired))
  redis.call('ZREM', seen_index_key, unpack(expired))
end

local st = redis.call('HMGET', state_key, 'score', 'score_at', 'level', 'first_occurred_at', 'last_occurred_at',
  'last_alert_at', 'last_alert_level')
-- Missing hash fields come back as false; tonumber(false) is nil.
local score = tonumber(st[1]) or 0
local score_at = tonumber(st[2])
local rank = RANK[st[3] or 'none'] or 1
local first_at = tonumber(st[4])
local last_at = tonumber(st[5])
local last_alert_at = tonumber(st[6])
local last_alert_rank = st[7] and RANK[st[7]] or nil

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
    local signals = {}
    for _, s in ipairs(ev.signals) do signals[#signals + 1] = s end
    local fields = {}

    -- Repeat contact: another customer-initiated contact about the same reason within the window.
    if not is_null(ev.contact_reason) then
      local reason = ev.contact_reason
      local last_field, streak_field = 'reason_last_at:' .. reason, 'reason_streak:' .. reason
      local rs = redis.call('HMGET', state_key, last_field, streak_field)
      local reason_last_at, streak = tonumber(rs[1]), tonumber(rs[2]) or 1
      local within = reason_last_at ~= nil and math.abs(t - reason_last_at) <= cfg.repeat_window_us
      local new_streak = within and streak + 1 or 1
      if within then
        local other = (t >= reason_last_at) and 'previous ' or 'other contact '
        signals[#signals + 1] = {
          signal_id = ev.repeat_signal_id,
          type = 'repeat_contact',
          weight = cfg.repeat_weight,
          explanation = ordinal(new_streak) .. ' contact about ' .. reason .. ' within ' .. cfg.repeat_window_text
            .. ' (' .. other .. iso_utc(reason_last_at) .. ')',
        }
      end
      if reason_last_at == nil or t >= reason_last_at then
        fields[#fields + 1] = last_field; fields[#fields + 1] = num(t)
        fields[#fields + 1] = streak_field; fields[#fields + 1] = num(new_streak)
      elseif within then
        -- A late contact inside the current streak lengthens it; the latest contact time stays.
        fields[#fields + 1] = streak_field; fields[#fields + 1] = num(new_streak)
      end
    end

    -- Score: decay to the later of (event time, score time) — never backwards — then add the weight,
    -- itself decayed to score_at when the event is older than the score.
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
          alert_id = string.sub(redis.sha1hex(customer_id .. '\0' .. event_id .. '\0' .. level), 1, 32),
          level = level, score = after, score_before = before,
        }
      end
      -- Backfill and cooldown suppress the alert, not the level: the level always follows the score.
      rank = target
    end

    local signal_json = {}
    for k, s in ipairs(signals) do signal_json[k] = encode_signal(ev, s) end
    local outputs = '{"signals":[' .. table.concat(signal_json, ',') .. '],"alert":'
      .. (alert and encode_alert(ev, alert, signals) or 'null') .. '}'

    -- 2. Write.
    score, score_at = after, ref
    fields[#fields + 1] = 'score'; fields[#fields + 1] = num(score)
    fields[#fields + 1] = 'score_at'; fields[#fields + 1] = num(score_at)
    fields[#fields + 1] = 'level'; fields[#fields + 1] = LEVELS[rank]
    if first_at == nil or t < first_at then
      first_at = t
      fields[#fields + 1] = 'first_occurred_at'; fields[#fields + 1] = num(t)
    end
    if last_at == nil or t >= last_at then
      last_at = t
      fields[#fields + 1] = 'last_occurred_at'; fields[#fields + 1] = num(t)
      fields[#fields + 1] = 'last_channel'; fields[#fields + 1] = ev.channel
      fields[#fields + 1] = 'last_touchpoint'; fields[#fields + 1] = ev.touchpoint
      fields[#fields + 1] = 'last_event_id'; fields[#fields + 1] = event_id
    end
    if alert then
      last_alert_at, last_alert_rank = t, rank
      fields[#fields + 1] = 'last_alert_id'; fields[#fields + 1] = alert.alert_id
      fields[#fields + 1] = 'last_alert_at'; fields[#fields + 1] = num(t)
      fields[#fields + 1] = 'last_alert_level'; fields[#fields + 1] = alert.level
      redis.call('HINCRBY', state_key, 'alerts', 1)
    end
    redis.call('HSET', state_key, unpack(fields))
    redis.call('HINCRBY', state_key, 'events', 1)
    if #signals > 0 then redis.call('HINCRBY', state_key, 'signals', #signals) end

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

return replies
