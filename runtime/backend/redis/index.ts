/**
 * Several servers sharing one task queue and one set of records, on Redis (ioredis and
 * ebbflow's own Lua scripts). Loaded only when `EBBFLOW_REDIS_URL` is set (nothing else imports
 * ioredis).
 * @module
 */
export {
  backendUnavailable,
  createRedisBackend,
  displayUrl,
  type RedisBackendOptions,
  RedisTaskBackend,
} from './backend.ts';
