/**
 * Every change to a task is one Lua script run inside Redis: atomic across servers, one round
 * trip, and announced on the events channel by the same script (so a recorded change is never
 * left unannounced). The data model is in `keys.ts`.
 *
 * Each script takes the same five leading arguments (`Header`), then its own. Records are
 * composed here, from the task hash, for every state but `completed` and `failed`, whose record
 * the finishing server composes (it alone holds the result) and the script stores as it is.
 * @module
 */
import type { Redis } from 'ioredis';

/** The leading arguments of every script. */
export interface Header {
  prefix: string;
  serverId: string;
  /** This server's clock (ms): submit, start, cancel and end times. */
  now: number;
  /** How long a finished record stays (ms). */
  ttlMs: number;
  /** Finished records kept at most (the oldest finished go first). */
  maxFinished: number;
}

type Arg = string | number;
export type Script = (header: Header, ...args: Arg[]) => Promise<unknown>;

export interface Scripts {
  submit: Script;
  claim: Script;
  finish: Script;
  cancel: Script;
  read: Script;
  tick: Script;
  sweep: Script;
}

/** The scripts as commands of `redis`: sent once, then run by their hash (EVALSHA). */
export const scriptsOf = (redis: Redis): Scripts => {
  const define = (name: string, body: string): Script => {
    redis.defineCommand(name, { lua: `${PRELUDE}\n${body}`, numberOfKeys: 0 });
    const command = (redis as unknown as Record<string, (...args: Arg[]) => Promise<unknown>>)[
      name
    ] as (...args: Arg[]) => Promise<unknown>;
    return (h, ...args) =>
      command.call(redis, h.prefix, h.serverId, h.now, h.ttlMs, h.maxFinished, ...args);
  };
  return {
    submit: define('ebbflowSubmit', SUBMIT),
    claim: define('ebbflowClaim', CLAIM),
    finish: define('ebbflowFinish', FINISH),
    cancel: define('ebbflowCancel', CANCEL),
    read: define('ebbflowRead', READ),
    tick: define('ebbflowTick', TICK),
    sweep: define('ebbflowSweep', SWEEP),
  };
};

/** Shared by every script: the header, loading a task, composing its record, settling, announcing. */
const PRELUDE = `
local P, SERVER, NOW, TTL, MAX_FINISHED = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local FIELDS = {'id', 'fn', 'sub', 'n', 'ro', 'v', 'st', 'a', 'sa', 'w', 'err', 'code', 'ca', 'ck', 'rec', 'tok', 'srv'}
local LOST = 'the server running it was lost'
local CANCEL_ERRORS = {
  running = 'cancelled while running',
  waiting = 'cancelled while waiting for its next attempt',
  before = 'cancelled before it started'
}

local function taskKey(id) return P .. ':t:' .. id end

local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A task's fields (missing ones false), or nil when the task is unknown or expired.
local function load(id)
  local values = redis.call('HMGET', taskKey(id), unpack(FIELDS))
  if not values[1] then return nil end
  local h = {}
  for i, field in ipairs(FIELDS) do h[field] = values[i] end
  return h
end

-- The TaskRecord as JSON: stored as it is once completed or failed, else composed from fields.
local function recordOf(h)
  if h.rec then return h.rec end
  local r = {id = h.id, ['function'] = h.fn, status = h.st, submittedAt = tonumber(h.sub),
    attempt = tonumber(h.a), attempts = tonumber(h.n)}
  if h.ro then r.retryOf = h.ro end
  if h.v then r.version = tonumber(h.v) end
  if h.st == 'running' or (h.st == 'cancelled' and h.ck == 'running') then
    r.startedAt = tonumber(h.sa)
    r.workerId = tonumber(h.w)
  end
  if h.st == 'queued' then
    if h.err then r.error = h.err end
    if h.code then r.errorCode = h.code end
  elseif h.st == 'cancelled' then
    r.cancelledAt = tonumber(h.ca)
    r.error = CANCEL_ERRORS[h.ck]
  end
  return cjson.encode(r)
end

-- Changes made by this script, published together when it ends.
local changes = {}
local function announce(record) changes[#changes + 1] = record end
local function publish()
  if #changes == 0 then return end
  redis.call('PUBLISH', P .. ':events',
    '{"server":' .. cjson.encode(SERVER) .. ',"records":[' .. table.concat(changes, ',') .. ']}')
end

-- A task ended: its time to live starts, and the oldest finished go past the cap.
local function settle(id)
  redis.call('PEXPIRE', taskKey(id), TTL)
  local done = P .. ':done'
  redis.call('ZADD', done, NOW, id)
  redis.call('ZREMRANGEBYSCORE', done, '-inf', NOW - TTL)
  local over = redis.call('ZCARD', done) - MAX_FINISHED
  if over > 0 then
    local oldest = redis.call('ZPOPMIN', done, over)
    for i = 1, #oldest, 2 do
      local st = redis.call('HGET', taskKey(oldest[i]), 'st')
      if st == 'completed' or st == 'failed' or st == 'cancelled' then
        redis.call('DEL', taskKey(oldest[i]))
      end
    end
  end
end

-- Leave the run: no longer counted as running, no longer held by its server.
local function unhold(id, h)
  redis.call('SREM', P .. ':r:' .. h.fn, id)
  if h.srv then redis.call('SREM', P .. ':h:' .. h.srv, id) end
end

-- Queued again for attempt a + 1 after a failure, keeping the failure visible meanwhile.
local function requeueFailed(id, h, err, code)
  local a = tonumber(h.a) + 1
  redis.call('HSET', taskKey(id), 'st', 'queued', 'a', a, 'err', err, 'code', code)
  redis.call('HDEL', taskKey(id), 'sa', 'w', 'tok')
  h.st, h.a, h.err, h.code, h.sa, h.w = 'queued', a, err, code, false, false
end
`;

/**
 * Accept tasks (those submitted in one turn come together): each one's id unused by any
 * function, its function's queue (waiting and backing off, across every server) below the limit.
 * Refuses them all with 'late' when Redis runs this after the caller gave up on it (a Redis that
 * stalled): a submit answered 503 never takes effect later.
 * ARGV: deadline (Redis time, ms; 0 = none), then per task nine values: id, function, maxQueue,
 * attempts, backoffMs, timeoutMs, args (JSON), retryOf or '', version or ''.
 * Returns per task {'ok', record} | {'duplicate'} | {'full'} | {'late'}.
 */
export const SUBMIT = `
local deadline = tonumber(ARGV[6])
local late = deadline > 0 and redisNow() > deadline

local function submitOne(i)
  if late then return {'late'} end
  local id, fn = ARGV[i], ARGV[i + 1]
  local key = taskKey(id)
  if redis.call('EXISTS', key) == 1 then return {'duplicate'} end
  local wait, delayed = P .. ':w:' .. fn, P .. ':d:' .. fn
  if redis.call('LLEN', wait) + redis.call('ZCARD', delayed) >= tonumber(ARGV[i + 2]) then
    return {'full'}
  end
  local seq = redis.call('INCR', P .. ':seq')
  redis.call('HSET', key, 'id', id, 'fn', fn, 'sub', ARGV[3], 'n', ARGV[i + 3], 'bo', ARGV[i + 4],
    'to', ARGV[i + 5], 'args', ARGV[i + 6], 'st', 'queued', 'a', 1)
  local h = {id = id, fn = fn, sub = ARGV[3], n = ARGV[i + 3], st = 'queued', a = 1}
  if ARGV[i + 7] ~= '' then redis.call('HSET', key, 'ro', ARGV[i + 7]); h.ro = ARGV[i + 7] end
  if ARGV[i + 8] ~= '' then redis.call('HSET', key, 'v', ARGV[i + 8]); h.v = ARGV[i + 8] end
  redis.call('RPUSH', wait, id)
  redis.call('ZADD', P .. ':all', seq, id)
  redis.call('ZADD', P .. ':f:' .. fn, seq, id)
  redis.call('SADD', P .. ':functions', fn)
  redis.call('ZREM', P .. ':done', id)
  local record = recordOf(h)
  announce(record)
  return {'ok', record}
end

local out = {}
for i = 7, #ARGV - 8, 9 do out[#out + 1] = submitOne(i) end
publish()
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
local rows, made = {}, 0
for i = 10, #ARGV - 1, 2 do
  local worker, count = ARGV[i], tonumber(ARGV[i + 1])
  local ids = redis.call('LPOP', wait, count)
  if not ids then break end
  for _, id in ipairs(ids) do
    local h = load(id)
    -- Gone (deleted by hand, flushed) or no longer queued: nothing to run.
    if h and h.st == 'queued' then
      made = made + 1
      local token = tokens .. '.' .. made
      local key = taskKey(id)
      redis.call('HSET', key, 'st', 'running', 'sa', ARGV[3], 'w', worker, 'tok', token, 'srv', SERVER)
      h.st, h.sa, h.w = 'running', ARGV[3], worker
      redis.call('SADD', P .. ':r:' .. fn, id)
      redis.call('SADD', P .. ':h:' .. SERVER, id)
      local input = redis.call('HMGET', key, 'args', 'to', 'bo')
      rows[#rows + 1] = {(i - 8) / 2, id, worker, token, input[1], input[2], h.a, h.sub, h.n,
        input[3], h.ro, h.v}
      announce(recordOf(h))
    end
  end
  if #ids < count then break end
end
if made > 0 then
  redis.call('SADD', P .. ':holders', SERVER)
  redis.call('SET', P .. ':l:' .. SERVER, '1', 'PX', leaseMs)
end
publish()
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
      redis.call('HDEL', key, 'tok')
      -- A completed task is never replayed: its arguments can go.
      if kind == 'completed' then redis.call('HDEL', key, 'args') end
      settle(id)
      announce(ARGV[i + 3])
    end
    accepted[#accepted + 1] = 1
  else
    accepted[#accepted + 1] = 0
  end
end
publish()
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
publish()
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
publish()
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
