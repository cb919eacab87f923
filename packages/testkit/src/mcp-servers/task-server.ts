import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Task } from '@modelcontextprotocol/sdk/types.js';
import { hostMcpSessions } from './session-host.ts';
import { z } from 'zod';

export interface TaskMcpServer {
  url: string;
  close(): Promise<void>;
  /** How many times `long_task` started its work (one per task created). */
  runs(): number;
  /** Every JSON-RPC method the server received, in order (tools/call, tasks/get, tasks/result, tasks/cancel…). */
  methods: string[];
  /** The tasks the server holds, by id, with their current status. */
  task(taskId: string): Promise<Task | null>;
  taskIds(): string[];
}

/**
 * A real MCP server with the tasks extension enabled (the SDK's experimental task support), over
 * Streamable HTTP on 127.0.0.1. `long_task {ms}` (taskSupport "optional") runs as a task: the call
 * answers at once with the task, the work finishes `ms` later with `Done after <ms> ms`, and
 * `tasks/get` reports `working` with a status message until then. `echo` has no task support.
 *
 * Tasks belong to the server, not to one MCP session (the SDK's store would tie them to the session
 * that made them): a client that reconnects after a crash, with a new session, still finds its task,
 * as a server that binds tasks to the caller's authorization would allow.
 */
export async function startTaskMcpServer(opts: { pollIntervalMs?: number } = {}): Promise<TaskMcpServer> {
  const store = new InMemoryTaskStore();
  // Drop the session id on every operation, so any session sees every task.
  const shared = {
    createTask: (p: Parameters<InMemoryTaskStore['createTask']>[0], id: Parameters<InMemoryTaskStore['createTask']>[1], r: Parameters<InMemoryTaskStore['createTask']>[2]) =>
      store.createTask(p, id, r),
    getTask: (taskId: string) => store.getTask(taskId),
    storeTaskResult: (taskId: string, status: 'completed' | 'failed', result: Parameters<InMemoryTaskStore['storeTaskResult']>[2]) => store.storeTaskResult(taskId, status, result),
    getTaskResult: (taskId: string) => store.getTaskResult(taskId),
    updateTaskStatus: (taskId: string, status: Task['status'], message?: string) => store.updateTaskStatus(taskId, status, message),
    listTasks: (cursor?: string) => store.listTasks(cursor),
  };
  let runs = 0;
  const ids: string[] = [];
  const methods: string[] = [];

  function buildServer(): McpServer {
    const server = new McpServer({ name: 'spool-task-server', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore: shared });
    server.experimental.tasks.registerToolTask(
      'long_task',
      { description: 'Works for ms milliseconds, as a task', inputSchema: { ms: z.number().int().min(0) }, execution: { taskSupport: 'optional' } },
      {
        createTask: async ({ ms }, extra) => {
          const task = await shared.createTask({ ttl: 3_600_000, pollInterval: opts.pollIntervalMs ?? 200 }, extra.requestId, { method: 'tools/call', params: {} });
          runs++;
          ids.push(task.taskId);
          const halfway = setTimeout(() => void shared.updateTaskStatus(task.taskId, 'working', 'halfway there').catch(() => undefined), ms / 2);
          setTimeout(() => {
            clearTimeout(halfway);
            void (async () => {
              const now = await shared.getTask(task.taskId);
              if (!now || now.status === 'cancelled') return;
              await shared.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `Done after ${ms} ms` }] });
            })().catch(() => undefined);
          }, ms);
          return { task };
        },
        getTask: async (_args, extra) => (await shared.getTask(extra.taskId)) as Task,
        getTaskResult: async (_args, extra) => (await shared.getTaskResult(extra.taskId)) as { content: Array<{ type: 'text'; text: string }> },
      },
    );
    server.registerTool('echo', { description: 'Echoes', inputSchema: { message: z.string() } }, async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));
    return server;
  }

  const host = await hostMcpSessions(buildServer, {
    onBody: (body) => {
      for (const m of Array.isArray(body) ? body : [body]) if (m && typeof m === 'object' && 'method' in m) methods.push(String((m as { method: unknown }).method));
    },
  });
  return {
    url: host.url,
    runs: () => runs,
    methods,
    task: async (taskId) => shared.getTask(taskId),
    taskIds: () => [...ids],
    close: async () => {
      await host.close();
      store.cleanup();
    },
  };
}
