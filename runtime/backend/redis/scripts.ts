/**
 * The few steps that must be atomic across servers, as Lua run inside Redis. Everything else is
 * BullMQ's own scripts (add, fetch with a lock, complete, fail with retry, stalled-job check).
 * @module
 */

import type { Redis } from 'ioredis';

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** The scripts as commands of `redis`: sent once, then run by their hash (EVALSHA). */
export const scriptsOf = (redis: Redis) => {
  const define = (name: string, lua: string, numberOfKeys: number): Script => {
    redis.defineCommand(name, { lua, numberOfKeys });
    return (...args) =>
      (redis as unknown as Record<string, Script>)[name]?.(...args) as Promise<unknown>;
  };
  return {
    reserve: define('ebbflowReserve', RESERVE, 7),
    read: define('ebbflowRead', READ, 0),
    cancel: define('ebbflowCancel', CANCEL, 0),
  };
};

/**
 * Reserve a task id across every function and give it its place in the listing; with an
 * idempotency key, take the key for the task in the same step (so two servers given the same
 * key at once create one task).
 * KEYS: id, sequence, all, byFunction, job, functions, idempotency key (unused without one).
 * ARGV: function, task id, the request's fingerprint ('' without a key), the key's ttl in ms.
 * Returns the sequence number; false when the id is taken; or {'key', function, task id,
 * fingerprint} when the key is held already (nothing reserved).
 */
export const RESERVE = `
if ARGV[3] ~= '' then
  local held = redis.call('GET', KEYS[7])
  if held then
    local fn, taskId, fingerprint = string.match(held, '^([^|]*)|([^|]*)|(.*)$')
    return {'key', fn, taskId, fingerprint}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then return false end
local seq = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. seq)
redis.call('ZADD', KEYS[3], seq, ARGV[2])
redis.call('ZADD', KEYS[4], seq, ARGV[2])
redis.call('SADD', KEYS[6], ARGV[1])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[7], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
end
return seq`;

/**
 * Read tasks in one round trip. ARGV: key prefix, then (task id, job id) pairs.
 * Returns per task false (unknown or gone) or {function, job hash as a flat list, 1 if its lock
 * is held (running), cancel mark or false}.
 */
export const READ = `
local out = {}
for i = 2, #ARGV, 2 do
  local taskId, jobId = ARGV[i], ARGV[i + 1]
  local entry = redis.call('GET', ARGV[1] .. ':t:' .. taskId)
  local found = false
  if entry then
    local fn = string.match(entry, '^(.*)|')
    local jobKey = ARGV[1] .. ':q:' .. fn .. ':' .. jobId
    local hash = redis.call('HGETALL', jobKey)
    if #hash > 0 then
      found = {fn, hash, redis.call('EXISTS', jobKey .. ':lock'),
        redis.call('GET', ARGV[1] .. ':c:' .. taskId) or false}
    end
  end
  out[#out + 1] = found
end
return out`;

/**
 * Mark a task cancelled unless it has ended. The mark is the truth from then on: whatever ending
 * a server reports later, the task reads as cancelled, so exactly one terminal state is seen.
 * A task waiting in its queue (or backing off) also leaves it for BullMQ's failed set, so no
 * claim takes it and no count holds it (the caller starts its time to live). One held by a lost
 * server (in `active` without a lock) is settled by the claim that finds it again.
 * ARGV: key prefix, task id, job id, now. Returns {'unknown'}, {'terminal', status} or
 * {'ok', function, 1 if running}.
 */
export const CANCEL = `
local entry = redis.call('GET', ARGV[1] .. ':t:' .. ARGV[2])
if not entry then return {'unknown'} end
local fn = string.match(entry, '^(.*)|')
local queue = ARGV[1] .. ':q:' .. fn
local jobKey = queue .. ':' .. ARGV[3]
if redis.call('EXISTS', jobKey) == 0 then return {'unknown'} end
local cancelKey = ARGV[1] .. ':c:' .. ARGV[2]
if redis.call('EXISTS', cancelKey) == 1 then return {'terminal', 'cancelled'} end
if redis.call('HEXISTS', jobKey, 'finishedOn') == 1 then
  if redis.call('HEXISTS', jobKey, 'returnvalue') == 1 then return {'terminal', 'completed'} end
  return {'terminal', 'failed'}
end
local running = redis.call('EXISTS', jobKey .. ':lock')
redis.call('SET', cancelKey, cjson.encode({at = tonumber(ARGV[4]), running = running == 1}))
if running == 0 then
  local removed = redis.call('LREM', queue .. ':wait', 0, ARGV[3])
    + redis.call('LREM', queue .. ':paused', 0, ARGV[3])
    + redis.call('ZREM', queue .. ':delayed', ARGV[3])
    + redis.call('ZREM', queue .. ':prioritized', ARGV[3])
  if removed > 0 then
    redis.call('ZADD', queue .. ':failed', ARGV[4], ARGV[3])
    redis.call('HSET', jobKey, 'finishedOn', ARGV[4], 'failedReason', 'cancelled')
  end
end
return {'ok', fn, running}`;
