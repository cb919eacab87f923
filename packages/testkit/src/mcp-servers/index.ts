/** Real MCP servers for tests, all on 127.0.0.1. */
export { FAIL_PROTOCOL_CODE, FAIL_PROTOCOL_MESSAGE, startTestMcpServer, type TestMcpServer, type TestMcpServerOptions } from './test-server.ts';
export { EVERYTHING_TOOLS, startEverything, type EverythingServer, type EverythingTransport } from './everything.ts';
export { freePort, startSilentServer, unreachableUrl } from './ports.ts';
export { startTaskMcpServer, type TaskMcpServer } from './task-server.ts';
export { startElicitMcpServer, type ElicitMcpServer, type ElicitRun } from './elicit-server.ts';
