export { startSpool, UnsafeRedisError, type RunningSpool } from './server.ts';
export { withDemoModel } from './demo.ts';
