import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, type TestMcpServer } from './mcp-servers/index.ts';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * Long MCP tools: progress reaching the client's stream. Real MCP server (the SDK's), real Redis,
 * the official client's stream helper.
 */
let spool: TestSpool;
let server: TestMcpServer;
const never = { require_approval: 'never' as const };

beforeAll(async () => {
  server = await startTestMcpServer({});
  spool = await startTestSpool({
    name: 'mcp-long',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' },
    // The test server reports progress every 200 ms; one event per 100 ms lets each through.
    file: { limits: { mcp_progress_interval_ms: 100 } },
  });
}, 60_000);

afterAll(async () => {
  await spool?.close();
  await server?.close();
});

describe('MCP progress as events', () => {
  it('streams mcp_call.in_progress while the tool reports progress; the SDK helper accepts it and a poll sees the call in progress', async () => {
    const stream = spool.client.responses.stream({
      model: 'm',
      input: '!call t__slow {"ms":1500}',
      tools: [{ type: 'mcp', server_label: 't', server_url: server.url, ...never }],
      background: true,
    });
    let responseId = '';
    let callId = '';
    let progressEvents = 0;
    let polled: OpenAI.Responses.Response | undefined;
    for await (const e of stream) {
      if (e.type === 'response.created') responseId = e.response.id;
      if (e.type === 'response.output_item.added' && e.item.type === 'mcp_call') callId = e.item.id;
      if (e.type === 'response.mcp_call.in_progress' && e.item_id === callId) {
        progressEvents++;
        // The first one is the turn's own; from the second on they come from the executor, mid-call.
        if (progressEvents === 2) polled = await spool.client.responses.retrieve(responseId);
      }
    }
    const final = await stream.finalResponse();
    expect(progressEvents).toBeGreaterThanOrEqual(3);
    expect(polled?.status).toBe('in_progress');
    expect(polled?.output.find((i) => i.id === callId)).toMatchObject({ type: 'mcp_call', status: 'in_progress' });
    // Nothing arrived after the result: the streamed snapshot's call is completed, as is the stored one.
    expect(final.status).toBe('completed');
    expect(final.output.find((i) => i.id === callId)).toMatchObject({ status: 'completed', output: 'Slept 1500 ms' });
    const stored = await spool.client.responses.retrieve(final.id);
    expect(stored.output.find((i) => i.id === callId)).toMatchObject({ status: 'completed' });
    expect(server.calls.filter((c) => c.name === 'slow')).toHaveLength(1);
  });
});
