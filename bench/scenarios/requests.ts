import { endpoint, HttpClient, type Reply } from '../lib/http.ts';
import { MODEL, SPOOL_API_KEY, type BenchSpool, type Bench } from '../harness.ts';

/**
 * The request pairs the scenarios send: a Responses request to Spool and the Chat Completions
 * request Spool makes of the upstream for it, sent directly. Same prompt (a testkit directive such
 * as `!words 10`), same client, pre-serialised once.
 */
export const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export function responsesBody(prompt: string, extra: Record<string, unknown> = {}): Buffer {
  return body({ model: MODEL, input: prompt, ...extra });
}

export function chatBody(prompt: string, extra: Record<string, unknown> = {}): Buffer {
  return body({ model: MODEL, messages: [{ role: 'user', content: prompt }], ...extra });
}

export function spoolClient(spool: BenchSpool, connections: number, keepAlive = true): HttpClient {
  return new HttpClient(endpoint(spool.baseUrl, SPOOL_API_KEY), { connections, keepAlive });
}

export function upstreamClient(bench: Bench, connections: number): HttpClient {
  return new HttpClient(endpoint(bench.upstreamUrl, 'upstream-key'), { connections });
}

/** Throws unless the reply is a 200 whose body contains `mustContain`. */
export function expectOk(reply: Reply, mustContain?: string): Reply {
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
  if (mustContain !== undefined && !reply.body.includes(mustContain)) throw new Error(`unexpected body: ${reply.body.slice(0, 200)}`);
  return reply;
}

export const COMPLETED = '"status":"completed"';

/**
 * The peer gateway's client: the same Chat Completions request, sent to Portkey, which forwards it
 * to the scripted upstream named per request (provider `openai`, custom host = the upstream's base URL).
 */
export function peerClient(bench: Bench, connections: number): HttpClient {
  const ep = endpoint(`${bench.peerUrl}/v1`, 'upstream-key');
  ep.headers['x-portkey-provider'] = 'openai';
  ep.headers['x-portkey-custom-host'] = bench.upstreamUrl;
  return new HttpClient(ep, { connections });
}
