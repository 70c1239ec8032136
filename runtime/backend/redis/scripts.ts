/**
 * Every change to a task is one Lua script run inside Redis: atomic across servers, one round
 * trip, and announced on the events channel by the same script (so a recorded change is never
 * left unannounced). The data model is in `keys.ts`.
 *
 * Each script takes the same five leading arguments (`Header`), then its own; this file wires
 * them up and holds the Lua they share (`PRELUDE`). The steps of a task are in
 * `task-scripts.ts`, the cluster's tick and sweep in `cluster-scripts.ts`. Records are composed
 * in Lua, from the task hash, for every state but `completed` and `failed`, whose record the
 * finishing server composes (it alone holds the result) and the script stores as it is.
 * @module
 */
import type { Redis } from 'ioredis';
import { SWEEP, TICK } from './cluster-scripts.ts';
import { CANCEL, CLAIM, FINISH, READ, SUBMIT } from './task-scripts.ts';

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

-- Redis's clock (ms), read once per script (TIME is a system call, costly in some VMs).
local clock = false
local function redisNow()
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end

-- A task's fields, and any \`extra\` ones (missing ones false), or nil when the task is unknown
-- or expired.
local function load(id, extra)
  local fields = FIELDS
  if extra then
    fields = {unpack(FIELDS)}
    for _, field in ipairs(extra) do fields[#fields + 1] = field end
  end
  local values = redis.call('HMGET', taskKey(id), unpack(fields))
  if not values[1] then return nil end
  local h = {}
  for i, field in ipairs(fields) do h[field] = values[i] end
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

-- A task ended: its time to live starts; it joins the finished ones, trimmed at the end.
local settled = false
local function settle(id)
  redis.call('PEXPIRE', taskKey(id), TTL)
  redis.call('ZADD', P .. ':done', NOW, id)
  settled = true
end

-- Once per script: the finished past their time to live leave the set, and the oldest finished
-- go past the cap (a task id used again since is no longer finished, and stays); then every
-- change is announced in one message.
local function wrapUp()
  if settled then
    local done = P .. ':done'
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
  if #changes == 0 then return end
  redis.call('PUBLISH', P .. ':events',
    '{"server":' .. cjson.encode(SERVER) .. ',"records":[' .. table.concat(changes, ',') .. ']}')
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
