import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { startTestSpool, until, type TestSpool } from './support/spool.ts';

/**
 * Traces with an in-memory exporter, as an operator's OpenTelemetry SDK would collect them: one
 * trace per response across the API, its turn jobs and its MCP jobs, GenAI attribute names, and the
 * trace context handed to the MCP server in `_meta`.
 */
const exporter = new InMemorySpanExporter();
let spool: TestSpool;
let mcp: TestMcpServer;

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  mcp = await startTestMcpServer({});
  spool = await startTestSpool({ name: 'tracing', env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' } });
});
afterAll(async () => {
  await spool?.close();
  await mcp?.close();
  trace.disable();
  propagation.disable();
});

const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('OpenTelemetry traces', () => {
  it('follows one response through the API, both turns, the model calls and the MCP call, under one trace id', async () => {
    const tools = [{ type: 'mcp' as const, server_label: 't', server_url: mcp.url, require_approval: 'never' as const }];
    const r = await spool.client.responses.create({ model: 'traced-model', input: '!call t__echo {"message":"traced"}', tools });
    expect(r.status).toBe('completed');
    const root = await until(async () => exporter.getFinishedSpans().find((s) => s.name === 'create_response traced-model' && s.attributes['gen_ai.response.id'] === r.id));
    const traceId = root.spanContext().traceId;
    // The last turn ends after the answer is sealed: wait for its span.
    const spans = await until(async () => {
      const s = spansOf(traceId);
      return s.filter((x) => x.name.startsWith('chat ')).length >= 2 && s.some((x) => x.name === 'turn 2') ? s : null;
    });
    const names = spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['create_response traced-model', 'turn 0', 'list_tools t', 'turn 1', 'chat traced-model', 'execute_tool echo', 'turn 2']));

    const chats = spans.filter((s) => s.name === 'chat traced-model');
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(chat.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'traced-model', 'gen_ai.response.id': r.id });
      expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(chat.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    }
    expect(chats.map((c) => c.attributes['gen_ai.response.finish_reasons'])).toEqual(expect.arrayContaining([['tool_calls'], ['stop']]));
    const tool = spans.find((s) => s.name === 'execute_tool echo') as ReadableSpan;
    expect(tool.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'echo', 'mcp.server.label': 't' });

    // Causality: turn 0 under the API's span; each model call under its turn; the MCP call under the
    // turn that asked for it; the next turn under that one.
    const byName = (n: string) => spans.find((s) => s.name === n) as ReadableSpan;
    expect(parentOf(byName('turn 0'))).toBe(root.spanContext().spanId);
    const turn1 = byName('turn 1');
    expect(parentOf(tool)).toBe(turn1.spanContext().spanId);
    expect(chats.map(parentOf)).toContain(turn1.spanContext().spanId);

    // The MCP server got the trace context of the tool call in `_meta`.
    const call = mcp.calls.find((c) => c.name === 'echo' && (c.args as { message?: string }).message === 'traced');
    expect(call?.meta?.traceparent).toBe(`00-${traceId}-${tool.spanContext().spanId}-01`);
  });
});
