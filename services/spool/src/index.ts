export { startSpool, type RunningSpool } from './server.ts';
export { withDemoModel } from './demo.ts';
