/**
 * Several servers sharing one task queue and one set of records, on Redis through BullMQ.
 * Loaded only when `EBBFLOW_REDIS_URL` is set (nothing else imports bullmq or ioredis).
 * @module
 */
export {
  backendUnavailable,
  createRedisBackend,
  displayUrl,
  type RedisBackendOptions,
  RedisTaskBackend,
} from './backend.ts';
