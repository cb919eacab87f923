export { startMcpExecutor, type McpExecutorDeps } from './worker.ts';
export { createMcpProcessor } from './processor.ts';
export { resolveTarget } from './resolve.ts';
