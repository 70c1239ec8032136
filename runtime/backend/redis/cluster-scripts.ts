/**
 * The Lua of the cluster's upkeep: each server's tick (heartbeat, lease, counts, lost servers'
 * runs taken back) and the sweep of listing entries whose records are gone. Each runs after the
 * shared `PRELUDE` of `scripts.ts`.
 * @module
 */

/**
 * A server's periodic trip: its heartbeat and lease, the cluster's counts and live servers, and
 * the check for lost servers. A holder whose lease lapsed lost its runs: each runs again at
 * once (a lost run spends an attempt) or fails with server_lost. After a pause of Redis itself
 * (or of every server) longer than two leases, one check is skipped so that live servers renew
 * first. ARGV: leaseMs, info (JSON), liveMs.
 * Returns {Redis time, {function, waiting, backoff due, backing off, running}..., {server info}...}.
 */
export const TICK = `
local leaseMs, info, liveMs = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local t = redisNow()
redis.call('SET', P .. ':l:' .. SERVER, '1', 'PX', leaseMs)
redis.call('ZADD', P .. ':servers', NOW, SERVER)
redis.call('SET', P .. ':s:' .. SERVER, info, 'PX', liveMs)
redis.call('ZREMRANGEBYSCORE', P .. ':servers', '-inf', NOW - 10 * liveMs)
local last = tonumber(redis.call('GET', P .. ':checked') or '0')
redis.call('SET', P .. ':checked', t)
if last == 0 or t - last <= 2 * leaseMs then
  for _, srv in ipairs(redis.call('SMEMBERS', P .. ':holders')) do
    if redis.call('EXISTS', P .. ':l:' .. srv) == 0 then
      local held = P .. ':h:' .. srv
      for _, id in ipairs(redis.call('SMEMBERS', held)) do
        local h = load(id)
        if h and h.st == 'running' and h.srv == srv then
          unhold(id, h)
          if tonumber(h.a) < tonumber(h.n) then
            requeueFailed(id, h, LOST, 'server_lost')
            redis.call('LPUSH', P .. ':w:' .. h.fn, id)
            announce(recordOf(h))
          else
            local r = {id = h.id, ['function'] = h.fn, status = 'failed', submittedAt = tonumber(h.sub),
              failedAt = NOW, error = LOST, errorCode = 'server_lost', attempt = tonumber(h.a),
              attempts = tonumber(h.n), startedAt = tonumber(h.sa), workerId = tonumber(h.w)}
            if h.ro then r.retryOf = h.ro end
            if h.v then r.version = tonumber(h.v) end
            local record = cjson.encode(r)
            redis.call('HSET', taskKey(id), 'st', 'failed', 'rec', record)
            redis.call('HDEL', taskKey(id), 'tok')
            settle(id)
            announce(record)
          end
        end
      end
      redis.call('DEL', held)
      redis.call('SREM', P .. ':holders', srv)
    end
  end
end
wrapUp()
local out = {t}
for _, fn in ipairs(redis.call('SMEMBERS', P .. ':functions')) do
  local delayed = P .. ':d:' .. fn
  out[#out + 1] = {fn, redis.call('LLEN', P .. ':w:' .. fn), redis.call('ZCOUNT', delayed, '-inf', t),
    redis.call('ZCARD', delayed), redis.call('SCARD', P .. ':r:' .. fn)}
end
for _, srv in ipairs(redis.call('ZRANGEBYSCORE', P .. ':servers', NOW - liveMs, '+inf')) do
  local text = redis.call('GET', P .. ':s:' .. srv)
  if text then out[#out + 1] = text end
end
return out`;

/**
 * Drop listing entries whose record is gone (expired, past the cap, deleted): the given ids, or
 * with none the oldest 500. ARGV: ids. Returns how many went.
 */
export const SWEEP = `
local ids = {}
for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then ids = redis.call('ZRANGE', P .. ':all', 0, 499) end
local gone = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', taskKey(id)) == 0 then gone[#gone + 1] = id end
end
if #gone == 0 then return 0 end
redis.call('ZREM', P .. ':all', unpack(gone))
for _, fn in ipairs(redis.call('SMEMBERS', P .. ':functions')) do
  redis.call('ZREM', P .. ':f:' .. fn, unpack(gone))
end
return #gone`;
