-- Removes fired journey timers whose outputs were produced. KEYS: 1 due zset, 2 timers hash (one
-- customer's); ARGV: started event_ids. Returns the customer's earliest due time left ('' if none).
for _, id in ipairs(ARGV) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw and cjson.decode(raw).outputs ~= nil then
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return first[2] or ''
