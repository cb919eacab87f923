export { startMcpExecutor, type McpExecutorDeps } from './worker.ts';
export { createMcpProcessor, policyRefusal, type McpProcessorDeps } from './processor.ts';
export { resolveTarget } from './resolve.ts';
