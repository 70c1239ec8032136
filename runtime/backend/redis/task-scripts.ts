/**
 * The Lua of a task's steps: submit, claim, finish, cancel, read. Each runs after the shared
 * `PRELUDE` of `scripts.ts` (its header arguments, `load`, `recordOf`, `settle`, `announce`).
 * @module
 */

/**
 * Accept tasks (those submitted in one turn come together): each one's id unused by any
 * function, its function's queue (waiting and backing off, across every server) below the limit.
 * Refuses them all with 'late' when Redis runs this after the caller gave up on it (a Redis that
 * stalled): a submit answered 503 never takes effect later.
 *
 * A task with an idempotency key: a key held already answers before anything else is checked
 * and creates nothing: the task it created ('replay', its record as it is now), 'expired' once
 * that record is gone, 'reused' when the key came with another request (fingerprint). A free key
 * is taken, for its own time to live, only by a task accepted here. Being one script, two
 * submits with the same key, from one server's turn or from several servers, create one task.
 * ARGV: deadline (Redis time, ms; 0 = none), then per task twelve values: id, function, maxQueue,
 * attempts, backoffMs, timeoutMs, args (JSON), retryOf or '', version or '', idempotency key or
 * '', the request's fingerprint, the key's time to live (ms).
 * Returns per task {'ok', record} | {'duplicate'} | {'full'} | {'late'} | {'replay', record} |
 * {'expired', task id} | {'reused', function, task id}.
 */
export const SUBMIT = `
local deadline = tonumber(ARGV[6])
local late = deadline > 0 and redisNow() > deadline

-- The answer to a key held already, or nil when it is free. The key names its task by id,
-- function and submit time: an id used again after its record expired is another task.
local function earlier(ikey, fingerprint)
  local held = redis.call('GET', ikey)
  if not held then return nil end
  local k = cjson.decode(held)
  if k.fp ~= fingerprint then return {'reused', k.fn, k.id} end
  local h = load(k.id)
  if not h or h.fn ~= k.fn or h.sub ~= k.sub then return {'expired', k.id} end
  return {'replay', recordOf(h)}
end

local function submitOne(i)
  if late then return {'late'} end
  local id, fn = ARGV[i], ARGV[i + 1]
  local ikey = ARGV[i + 9]
  if ikey ~= '' then
    ikey = P .. ':k:' .. ikey
    local answer = earlier(ikey, ARGV[i + 10])
    if answer then return answer end
  end
  local key = taskKey(id)
  if redis.call('EXISTS', key) == 1 then return {'duplicate'} end
  local wait, delayed = P .. ':w:' .. fn, P .. ':d:' .. fn
  if redis.call('LLEN', wait) + redis.call('ZCARD', delayed) >= tonumber(ARGV[i + 2]) then
    return {'full'}
  end
  local seq = redis.call('INCR', P .. ':seq')
  local fields = {'id', id, 'fn', fn, 'sub', ARGV[3], 'n', ARGV[i + 3], 'bo', ARGV[i + 4],
    'to', ARGV[i + 5], 'args', ARGV[i + 6], 'st', 'queued', 'a', 1}
  local h = {id = id, fn = fn, sub = ARGV[3], n = ARGV[i + 3], st = 'queued', a = 1}
  if ARGV[i + 7] ~= '' then
    fields[#fields + 1], fields[#fields + 2], h.ro = 'ro', ARGV[i + 7], ARGV[i + 7]
  end
  if ARGV[i + 8] ~= '' then
    fields[#fields + 1], fields[#fields + 2], h.v = 'v', ARGV[i + 8], ARGV[i + 8]
  end
  redis.call('HSET', key, unpack(fields))
  redis.call('RPUSH', wait, id)
  redis.call('ZADD', P .. ':all', seq, id)
  redis.call('ZADD', P .. ':f:' .. fn, seq, id)
  redis.call('SADD', P .. ':functions', fn)
  if ikey ~= '' then
    local named = cjson.encode({fn = fn, id = id, sub = ARGV[3], fp = ARGV[i + 10]})
    redis.call('SET', ikey, named, 'PX', ARGV[i + 11])
  end
  local record = recordOf(h)
  announce(record)
  return {'ok', record}
end

local out = {}
for i = 7, #ARGV - 11, 12 do out[#out + 1] = submitOne(i) end
wrapUp()
return out`;

/**
 * Hand out queued tasks of one function to this server, for several workers in one trip:
 * retries whose backoff is over join the back of the queue first, then each (worker, count) pair
 * takes up to count from the front. Each run gets its own token; the server's lease (which says
 * it is alive) is renewed. Takes nothing past its deadline (the server gave up on the answer:
 * the tasks would be held by a server that does not know it has them).
 * ARGV: function, leaseMs, token prefix, deadline (Redis time, ms; 0 = none), then (worker id,
 * count) pairs. Returns {tasks left (waiting and backing off), rows}, a row being {pair index
 * (from 1), id, worker, token, args, timeoutMs, attempt, submittedAt, attempts, backoffMs,
 * retryOf, version}.
 */
export const CLAIM = `
local fn, leaseMs, tokens, deadline = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
local wait, delayed = P .. ':w:' .. fn, P .. ':d:' .. fn
if deadline > 0 and redisNow() > deadline then
  return {redis.call('LLEN', wait) + redis.call('ZCARD', delayed), {}}
end
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', redisNow(), 'LIMIT', 0, 1000)
if #due > 0 then
  redis.call('ZREM', delayed, unpack(due))
  redis.call('RPUSH', wait, unpack(due))
end
local INPUT = {'args', 'to', 'bo'}
local rows, made = {}, 0
for i = 10, #ARGV - 1, 2 do
  local worker, count = ARGV[i], tonumber(ARGV[i + 1])
  local ids = redis.call('LPOP', wait, count)
  if not ids then break end
  for _, id in ipairs(ids) do
    local h = load(id, INPUT)
    -- Gone (deleted by hand, flushed) or no longer queued: nothing to run.
    if h and h.st == 'queued' then
      made = made + 1
      local token = tokens .. '.' .. made
      local key = taskKey(id)
      redis.call('HSET', key, 'st', 'running', 'sa', ARGV[3], 'w', worker, 'tok', token, 'srv', SERVER)
      h.st, h.sa, h.w = 'running', ARGV[3], worker
      redis.call('SADD', P .. ':r:' .. fn, id)
      redis.call('SADD', P .. ':h:' .. SERVER, id)
      rows[#rows + 1] = {(i - 8) / 2, id, worker, token, h.args, h.to, h.a, h.sub, h.n, h.bo, h.ro,
        h.v}
      announce(recordOf(h))
    end
  end
  if #ids < count then break end
end
if made > 0 then
  redis.call('SADD', P .. ':holders', SERVER)
  redis.call('SET', P .. ':l:' .. SERVER, '1', 'PX', leaseMs)
end
wrapUp()
return {redis.call('LLEN', wait) + redis.call('ZCARD', delayed), rows}`;

/**
 * Report how runs ended, several in one trip. A report counts only while the task is still this
 * run's (running, with the token its claim got): a task cancelled meanwhile, or taken over after
 * its server was thought lost, keeps what it has. ARGV: groups of six: id, token, kind, then
 * - 'completed' | 'failed': the terminal record (JSON), '', '';
 * - 'retry': the error, its code, the backoff (ms) before the next attempt;
 * - 'unstarted' (back to the front, no attempt spent): '', '', '';
 * - 'orphan' (claimed here but never handed to a worker; token '*'): as 'unstarted'.
 * Returns per group 1 (recorded) or 0 (dropped).
 */
export const FINISH = `
local accepted = {}
for i = 6, #ARGV - 5, 6 do
  local id, token, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local h = load(id)
  local mine = h and h.st == 'running' and
    ((kind == 'orphan' and h.srv == SERVER) or (kind ~= 'orphan' and h.tok == token))
  if mine then
    local key = taskKey(id)
    unhold(id, h)
    if kind == 'unstarted' or kind == 'orphan' then
      redis.call('HSET', key, 'st', 'queued')
      redis.call('HDEL', key, 'sa', 'w', 'tok')
      h.st = 'queued'
      redis.call('LPUSH', P .. ':w:' .. h.fn, id)
      announce(recordOf(h))
    elseif kind == 'retry' then
      requeueFailed(id, h, ARGV[i + 3], ARGV[i + 4])
      local delay = tonumber(ARGV[i + 5])
      if delay > 0 then
        redis.call('ZADD', P .. ':d:' .. h.fn, redisNow() + delay, id)
      else
        redis.call('RPUSH', P .. ':w:' .. h.fn, id)
      end
      announce(recordOf(h))
    else
      redis.call('HSET', key, 'st', kind, 'rec', ARGV[i + 3])
      -- A completed task is never replayed: its arguments can go.
      if kind == 'completed' then redis.call('HDEL', key, 'tok', 'args')
      else redis.call('HDEL', key, 'tok') end
      settle(id)
      announce(ARGV[i + 3])
    end
    accepted[#accepted + 1] = 1
  else
    accepted[#accepted + 1] = 0
  end
end
wrapUp()
return accepted`;

/**
 * Cancel a queued or running task. It ends here and now (its time to live starts), whatever its
 * server reports later; a running one is named on the cancels channel so that its server stops
 * it. Refuses with 'late' as SUBMIT does. ARGV: id, deadline (0 = none).
 * Returns {'unknown'} | {'terminal', status} | {'late'} | {'ok', record, 1 if it was running}.
 */
export const CANCEL = `
local id = ARGV[6]
local deadline = tonumber(ARGV[7])
if deadline > 0 and redisNow() > deadline then return {'late'} end
local h = load(id)
if not h then return {'unknown'} end
if h.st ~= 'queued' and h.st ~= 'running' then return {'terminal', h.st} end
local key = taskKey(id)
local running = h.st == 'running'
local kind = 'running'
if running then
  unhold(id, h)
else
  redis.call('LREM', P .. ':w:' .. h.fn, 1, id)
  redis.call('ZREM', P .. ':d:' .. h.fn, id)
  kind = tonumber(h.a) > 1 and 'waiting' or 'before'
end
redis.call('HSET', key, 'st', 'cancelled', 'ca', ARGV[3], 'ck', kind)
redis.call('HDEL', key, 'tok')
h.st, h.ca, h.ck = 'cancelled', ARGV[3], kind
settle(id)
local record = recordOf(h)
announce(record)
wrapUp()
if running then redis.call('PUBLISH', P .. ':cancels', id) end
return {'ok', record, running and 1 or 0}`;

/** Records by id, in one trip. ARGV: ids. Returns per id the record (JSON) or false. */
export const READ = `
local out = {}
for i = 6, #ARGV do
  local h = load(ARGV[i])
  out[#out + 1] = h and recordOf(h) or false
end
return out`;
