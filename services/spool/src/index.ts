export { startSpool, type RunningSpool } from './server.ts';
