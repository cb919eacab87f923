export { startSpool, UnsafeRedisError, type RunningSpool } from './server.ts';
