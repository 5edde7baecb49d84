-- Moves a customer's entry in the global timer index after a sweep. KEYS: 1 index zset; ARGV: 1 customer,
-- 2 the entry's score the sweep started from, 3 the customer's earliest due time now ('' = none).
-- If a processor moved the entry meanwhile (it armed a timer), its newer value stays.
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
