import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startElicitMcpServer, type ElicitMcpServer } from '@spool/testkit';
import { McpClientPool, type ElicitationQuestion } from './pool.ts';
import type { McpTarget } from './target.ts';

/** The pool's side of elicitation against a real SDK server whose tools ask the user. */
let server: ElicitMcpServer;
let pool: McpClientPool;
const target = (timeoutMs = 5_000): McpTarget => ({ kind: 'http', label: 'e', url: server.url, transport: 'streamable-http', headers: {}, timeoutMs });

beforeAll(async () => {
  server = await startElicitMcpServer();
  pool = new McpClientPool();
});
afterAll(async () => {
  await pool.close();
  await server.close();
});

describe('a call that may park on a question', () => {
  it('hands the question to the hook and the answer to the tool; the timeout does not run while the call is held', async () => {
    const asked: ElicitationQuestion[] = [];
    const outcome = await pool.callTool(
      target(300),
      'deploy',
      {},
      {
        onElicit: async (q, hold) => {
          asked.push(q);
          hold();
          // Longer than the call's timeout_ms: held time does not count.
          await new Promise((r) => setTimeout(r, 700));
          return { action: 'accept', content: { env: 'production', replicas: 2 } };
        },
      },
    );
    expect(outcome).toEqual({ ok: true, output: 'Deployed to production with 2 replicas' });
    expect(asked).toEqual([{ message: 'Where should I deploy?', requestedSchema: expect.objectContaining({ required: ['env'] }) as unknown as Record<string, unknown> }]);
  });

  it("times out on the tool's own time when the question is not held", async () => {
    const outcome = await pool.callTool(target(300), 'deploy', {}, { onElicit: () => new Promise(() => undefined) });
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.message).toMatch(/timed out|300 ms/i);
  });

  it('declines when the hook declines, and notes what was asked in the output', async () => {
    const outcome = await pool.callTool(target(), 'deploy', {}, { onElicit: async () => null });
    expect(outcome).toEqual({
      ok: true,
      output:
        'Not deployed (decline)\n[elicitation declined] The tool asked the user: "Where should I deploy?". Spool cannot ask the user during this call (a Chat Completions or store: false response cannot be resumed), so it declined.',
    });
  });
});
