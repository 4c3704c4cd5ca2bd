/**
 * Lua ports of `tryReserve` and `adjust` from `bucket.ts`: each runs as one script, so Redis
 * executes the read-refill-check-write without any other client in between, across every service
 * instance. Buckets live in one hash per client: `r` and `t` are the request and token levels
 * (absent = full), `ts` the time of the last refill in milliseconds.
 *
 * Time is the Redis server clock (`TIME`) unless the caller passes one: all instances then agree on
 * "now" without trusting their own clocks. Redis ≥ 5 replicates script effects, so reading TIME
 * before writing is allowed.
 */

const COMMON = `
local WINDOW = 60000

local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local function level(stored, cap, elapsed)
  if cap == 0 then return nil end
  if stored == nil then return cap end
  return math.min(cap, stored + elapsed * cap / WINDOW)
end

local function load(key, rcap, tcap, now)
  local raw = redis.call('HMGET', key, 'r', 't', 'ts')
  local ts = tonumber(raw[3])
  local elapsed = 0
  if ts == nil then
    ts = now
  else
    elapsed = math.max(0, now - ts)
    ts = math.max(ts, now)
  end
  return level(tonumber(raw[1]), rcap, elapsed), level(tonumber(raw[2]), tcap, elapsed), ts
end

local function until_full(current, cap)
  if current == nil then return 0 end
  return (cap - current) * WINDOW / cap
end

-- Full buckets are not stored; the key expires when the last one is full again, so an idle client
-- costs nothing. The extra second covers a caller-supplied clock running behind the server.
local function save(key, r, t, ts, rcap, tcap)
  local wait = math.max(until_full(r, rcap), until_full(t, tcap))
  if wait <= 0 then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'ts', string.format('%.17g', ts))
  if r ~= nil and r < rcap then redis.call('HSET', key, 'r', string.format('%.17g', r)) else redis.call('HDEL', key, 'r') end
  if t ~= nil and t < tcap then redis.call('HSET', key, 't', string.format('%.17g', t)) else redis.call('HDEL', key, 't') end
  redis.call('PEXPIRE', key, math.ceil(wait) + 1000)
end
`;

/**
 * KEYS[1] bucket; ARGV: requests cap, tokens cap (0 = unlimited), estimate, now ('' = server time).
 * Returns {1} when reserved, else {0, limit, retryAfterSeconds, remaining}.
 */
export const RESERVE_SCRIPT = `${COMMON}
local rcap, tcap, estimate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local r, t, ts = load(KEYS[1], rcap, tcap, clock(ARGV[4]))

local function wait_ms(current, need, cap)
  if cap == 0 or current + cap * 1e-9 >= need then return 0 end
  return (need - current) * WINDOW / cap
end
local function remaining(current, cap)
  return math.floor(math.max(0, current) + cap * 1e-9)
end

if tcap > 0 and estimate > tcap then
  return {0, 'tokens', WINDOW / 1000, remaining(t, tcap)}
end
local rwait = 0
if r ~= nil then rwait = wait_ms(r, 1, rcap) end
local twait = 0
if t ~= nil then twait = wait_ms(t, estimate, tcap) end
if rwait > 0 or twait > 0 then
  local retry = math.max(1, math.ceil(math.max(rwait, twait) / 1000 - 1e-9))
  if twait > rwait then return {0, 'tokens', retry, remaining(t, tcap)} end
  return {0, 'requests', retry, remaining(r, rcap)}
end
if r ~= nil then r = r - 1 end
if t ~= nil then t = t - estimate end
save(KEYS[1], r, t, ts, rcap, tcap)
return {1}
`;

/**
 * KEYS[1] bucket; ARGV: requests cap, tokens cap, request delta, token delta, now ('' = server time).
 * Positive deltas give back (never above capacity), negative ones charge and may leave debt.
 */
export const ADJUST_SCRIPT = `${COMMON}
local rcap, tcap = tonumber(ARGV[1]), tonumber(ARGV[2])
local r, t, ts = load(KEYS[1], rcap, tcap, clock(ARGV[5]))
if r ~= nil then r = math.min(rcap, r + tonumber(ARGV[3])) end
if t ~= nil then t = math.min(tcap, t + tonumber(ARGV[4])) end
save(KEYS[1], r, t, ts, rcap, tcap)
return 1
`;

/**
 * A spend counter: KEYS[1]; ARGV amount, limit (-1: none), expiry (ms since the epoch). Adds only
 * when the sum stays within the limit; answers {1 | 0, spent}.
 */
export const SPEND_ADD_SCRIPT = `
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and spent + amount > limit then return {0, spent} end
spent = redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {1, spent}
`;

/** Corrects a spend counter by ARGV[1] (never below 0), keeps its expiry ARGV[2]; answers it after. */
export const SPEND_ADJUST_SCRIPT = `
local spent = redis.call('INCRBY', KEYS[1], ARGV[1])
if spent < 0 then
  spent = 0
  redis.call('SET', KEYS[1], 0)
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return spent
`;
