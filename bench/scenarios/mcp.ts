import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mcpFunctionName } from '@spool/llm-worker';
import { MODEL } from '../harness.ts';
import { perOperation, redisCounters, type RedisCounters } from '../lib/redis-stats.ts';
import { Samples, round } from '../lib/stats.ts';
import { body, expectOk, responsesBody, spoolClient, upstreamClient } from './requests.ts';
import { row, type Scenario } from './types.ts';

const LABEL = 'bench';
const MAX_PAIRS = 5_000;
const ARGS = '{"message":"hi"}';

export const MCP_NOT_SUPPORTED = 'skipped: MCP not supported yet';

/** Whether the probe answer shows a completed `mcp_call` of echo with its output. */
function hasEchoCall(reply: { status: number; body: string }): boolean {
  if (reply.status !== 200) return false;
  try {
    const r = JSON.parse(reply.body) as { status?: string; output?: Array<{ type?: string; name?: string; output?: string | null }> };
    return r.status === 'completed' && (r.output ?? []).some((i) => i.type === 'mcp_call' && i.name === 'echo' && typeof i.output === 'string' && i.output.includes('Echo: hi'));
  } catch {
    return false;
  }
}

/**
 * A response whose model calls the MCP `echo` tool once (require_approval: never), one client,
 * sequential. Direct baseline per pair: the two upstream calls Spool makes (the tool call, then the
 * answer to the tool result; streamed, as Spool streams them) plus `tools/call` on an already
 * connected SDK client. Orchestration = Spool − direct. Runs only when the server supports MCP tools.
 */
export const mcp: Scenario = async (bench) => {
  const fn = mcpFunctionName(LABEL, 'echo');
  const tool = { type: 'mcp', server_label: LABEL, server_url: bench.mcpUrl, require_approval: 'never' };
  const spoolBody = responsesBody(`!call ${fn} ${ARGS}`, { tools: [tool] });
  const load = `1 client, sequential; a response with one MCP echo call (Streamable HTTP, require_approval: never), ${bench.opts.duration} s measured`;

  const spool = await bench.startSpool('mcp');
  const client = spoolClient(spool, 1);
  const up = upstreamClient(bench, 1);
  const mcpClient = new Client({ name: 'spool-bench', version: '1.0.0' });
  try {
    const probe = await client.send('POST', '/responses', spoolBody).catch((err: Error) => ({ status: 0, body: err.message }));
    if (!hasEchoCall(probe)) {
      return {
        scenario: 'mcp',
        load,
        rows: [row('mcp', MCP_NOT_SUPPORTED, 'ms', null, null, { text: '≤ 2 ms p50 orchestration', check: 'overhead', max: 2 })],
        skipped: MCP_NOT_SUPPORTED,
        notes: [`probe answer: HTTP ${probe.status} ${probe.body.slice(0, 300)}`],
        details: {},
      };
    }

    const fnTool = {
      type: 'function',
      function: { name: fn, description: 'Echoes the message back', parameters: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
    };
    const user = { role: 'user', content: `!call ${fn} ${ARGS}` };
    const streamed = { stream: true, stream_options: { include_usage: true } };
    const firstCall = body({ model: MODEL, messages: [user], tools: [fnTool], ...streamed });
    const secondCall = body({
      model: MODEL,
      messages: [
        user,
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_bench', type: 'function', function: { name: fn, arguments: ARGS } }] },
        { role: 'tool', tool_call_id: 'call_bench', content: 'Echo: hi' },
      ],
      tools: [fnTool],
      ...streamed,
    });
    await mcpClient.connect(new StreamableHTTPClientTransport(new URL(bench.mcpUrl)));

    const spoolMs = new Samples();
    const directMs = new Samples();
    const callMs = new Samples();
    const listMs = new Samples();
    const paired = new Samples();
    const warmEnd = performance.now() + bench.warmupMs;
    let meter = spool.cpuMeter();
    let countersBefore: RedisCounters | null = null;
    let end = Infinity;
    let errors = 0;
    const errorSamples = new Set<string>();
    for (let pairs = 0; pairs < MAX_PAIRS;) {
      const now = performance.now();
      const measured = now >= warmEnd;
      if (measured && end === Infinity) {
        end = now + bench.durationMs;
        meter = spool.cpuMeter();
        countersBefore = await redisCounters(bench.redis.url);
      }
      if (now >= end) break;
      if (measured) pairs++;
      try {
        let t = performance.now();
        expectOk(await up.send('POST', '/chat/completions', firstCall), '"finish_reason":"tool_calls"');
        const up1 = performance.now() - t;
        t = performance.now();
        const result = await mcpClient.callTool({ name: 'echo', arguments: { message: 'hi' } });
        const call = performance.now() - t;
        if (result.isError) throw new Error('direct echo call failed');
        t = performance.now();
        expectOk(await up.send('POST', '/chat/completions', secondCall), '"finish_reason":"stop"');
        const up2 = performance.now() - t;
        t = performance.now();
        await mcpClient.listTools();
        const list = performance.now() - t;
        t = performance.now();
        const reply = await client.send('POST', '/responses', spoolBody);
        const viaSpool = performance.now() - t;
        if (!hasEchoCall(reply)) throw new Error(`no completed echo call: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
        if (measured) {
          directMs.add(up1 + call + up2);
          callMs.add(call);
          listMs.add(list);
          spoolMs.add(viaSpool);
          paired.add(viaSpool - (up1 + call + up2));
        }
      } catch (err) {
        if (measured) {
          errors++;
          errorSamples.add((err as Error).message);
        }
      }
    }
    const cpuPercent = meter.since();
    // Only Spool talks to this Redis: its counters over the window are Spool's cost per response.
    const redisPerResponse = countersBefore ? perOperation(countersBefore, await redisCounters(bench.redis.url), Math.max(1, spoolMs.count + errors)) : null;
    const d = directMs.summary();
    const s = spoolMs.summary();
    const notes = [`a direct tools/list takes p50 ${round(listMs.summary().p50, 3)} ms; if Spool lists tools on every response, that is inside the orchestration figure`];
    if (errors > 0) notes.push(`${errors} errors: ${[...errorSamples].slice(0, 3).join('; ')}`);
    if (redisPerResponse) {
      const scripts = redisPerResponse.calls.evalsha ?? 0;
      notes.push(`Redis work per response: ${redisPerResponse.commands} commands, ${scripts} script calls, ${redisPerResponse.bytesIn} bytes in, ${redisPerResponse.bytesOut} bytes out`);
    }
    return {
      scenario: 'mcp',
      load,
      rows: [
        row('mcp', 'response with 1 echo call, p50', 'ms', round(d.p50, 3), round(s.p50, 3), { text: '≤ 2 ms p50 orchestration', check: 'overhead', max: 2 }),
        row('mcp', 'response with 1 echo call, p99', 'ms', round(d.p99, 3), round(s.p99, 3), null),
      ],
      notes,
      details: { direct: d, spool: s, directToolCall: callMs.summary(), directListTools: listMs.summary(), pairedOrchestration: paired.summary(), errors, cpuPercent, redisPerResponse },
    };
  } finally {
    await mcpClient.close().catch(() => undefined);
    client.close();
    up.close();
    await spool.stop();
  }
};
