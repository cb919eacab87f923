import { ResponsesWS } from 'openai/resources/responses/ws';
import type OpenAI from 'openai';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_MODEL } from './support/compliance-fixtures.ts';
import { SPEC_AVAILABLE, validateComponent, validateResponseResource, validateStreamingEvent } from './support/openapi.ts';
import { eventsOf, readSse, startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

/*
 * WebSocket mode, as the Open Responses compliance suite drives it (`makeWebSocketSession` of
 * src/lib/compliance-tests.ts): one connection, one `response.create` at a time, each turn ending
 * at its terminal event or at an `error` event. Its seven WebSocket tests are replayed, with
 * every event checked against the spec, plus what reached the model, the SDK's own ResponsesWS
 * client, authentication and the browser policy on the upgrade, ownership, bounds, and the
 * HTTP view (poll, SSE resume, cancel) of responses created over a socket.
 */

type Json = Record<string, unknown>;
const MODEL = COMPLIANCE_MODEL;
const specIt = it.skipIf(!SPEC_AVAILABLE);

interface Turn {
  events: Json[];
  errors: string[];
  finalResponse: Json | null;
  errorEvent: Json | null;
}

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete']);

function wsUrl(spool: TestSpool, path = '/v1/responses'): string {
  return `${spool.url.replace(/^http/, 'ws')}${path}`;
}

function open(url: string, headers: Record<string, string> = { Authorization: 'Bearer test-key' }): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
  });
}

/** Sends each step after the previous turn ended (terminal or error event), as the suite does. */
async function session(ws: WebSocket, steps: Array<Json | ((turns: Turn[]) => Json)>): Promise<Turn[]> {
  const turns: Turn[] = [];
  for (const step of steps) {
    const body = typeof step === 'function' ? step(turns) : step;
    const turn: Turn = { events: [], errors: [], finalResponse: null, errorEvent: null };
    if (SPEC_AVAILABLE) turn.errors.push(...validateComponent('WebSocketResponseCreateEvent', body).map((e) => `request: ${e}`));
    await new Promise<void>((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const event = JSON.parse(data.toString()) as Json;
        turn.events.push(event);
        if (event.type === 'error') {
          if (SPEC_AVAILABLE) turn.errors.push(...validateComponent('WebSocketErrorEvent', event));
          turn.errorEvent = event;
        } else {
          if (SPEC_AVAILABLE) turn.errors.push(...validateStreamingEvent(event));
          if (TERMINAL.has(event.type as string)) turn.finalResponse = event.response as Json;
        }
        if (turn.errorEvent || turn.finalResponse) {
          ws.off('message', onMessage);
          ws.off('close', onClose);
          resolve();
        }
      };
      const onClose = () => reject(new Error('socket closed before a terminal event'));
      ws.on('message', onMessage);
      ws.once('close', onClose);
      ws.send(JSON.stringify(body));
    });
    turns.push(turn);
  }
  return turns;
}

const errorCode = (t: Turn | undefined) => ((t?.errorEvent?.error as Json | undefined)?.code ?? (t?.finalResponse?.error as Json | undefined)?.code ?? null) as string | null;

function completedAndValid(t: Turn): string[] {
  const errors = [...t.errors];
  if (t.events.length === 0) errors.push('No streaming events received');
  if (!t.finalResponse) return [...errors, `no terminal response (${JSON.stringify(t.errorEvent)})`];
  if (SPEC_AVAILABLE) errors.push(...validateResponseResource(t.finalResponse));
  if (t.finalResponse.status !== 'completed') errors.push(`Expected status "completed" but got "${String(t.finalResponse.status)}"`);
  return errors;
}

let spool: TestSpool;
const sockets: WebSocket[] = [];
async function connect(path?: string): Promise<WebSocket> {
  const ws = await open(wsUrl(spool, path));
  sockets.push(ws);
  return ws;
}

/** The chat messages the upstream got for the request whose last user message contains `marker`. */
function sentTo(marker: string): string {
  const req = spool.upstream.requests.findLast((r) => JSON.stringify(r.messages).includes(marker));
  return JSON.stringify(req?.messages ?? null);
}

beforeAll(async () => {
  spool = await startTestSpool({ name: 'websocket', env: { SPOOL_API_KEYS: 'test-key,other-key' }, file: { limits: { ws_max_queued: 2, max_body_bytes: 64 * 1024 } } });
});
afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await spool?.close();
});

describe('Open Responses compliance suite (WebSocket tests, replayed)', () => {
  specIt('websocket-response: events of the SSE stream as text frames, ending completed', async () => {
    const [turn] = await session(await connect(), [{ type: 'response.create', model: MODEL, input: [{ type: 'message', role: 'user', content: 'Count from 1 to 3.' }] }]);
    expect(completedAndValid(turn as Turn)).toEqual([]);
    const seqs = (turn as Turn).events.map((e) => e.sequence_number);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect((turn as Turn).events[0]?.type).toBe('response.created');
  });

  specIt('websocket-sequential-responses: two responses on one connection, in order', async () => {
    const turns = await session(await connect(), [
      { type: 'response.create', model: MODEL, store: false, input: 'Reply with exactly: first' },
      { type: 'response.create', model: MODEL, store: false, input: 'Reply with exactly: second' },
    ]);
    expect(turns.flatMap(completedAndValid)).toEqual([]);
    expect(turns[0]?.finalResponse?.id).not.toBe(turns[1]?.finalResponse?.id);
  });

  specIt('websocket-continuation: a store:false response continues on its connection with only the new input', async () => {
    const turns = await session(await connect(), [
      { type: 'response.create', model: MODEL, store: false, input: 'Remember the code word: cobalt. Reply with OK.' },
      (t) => ({ type: 'response.create', model: MODEL, store: false, previous_response_id: t[0]?.finalResponse?.id, input: 'What is the code word? Reply with only the code word (ws-cont).' }),
    ]);
    expect(turns.flatMap(completedAndValid)).toEqual([]);
    // The model saw the first turn's input: the context came from the connection's response.
    expect(sentTo('(ws-cont)')).toContain('cobalt');
  });

  specIt('websocket-generate-false: a warm-up has an id and no output, calls no model, and can be continued', async () => {
    const before = spool.upstream.requests.length;
    const ws = await connect();
    const [warm] = await session(ws, [{ type: 'response.create', model: MODEL, store: false, generate: false, input: 'Prepare to answer with exactly: warmed (ws-warm)' }]);
    expect(completedAndValid(warm as Turn)).toEqual([]);
    expect(warm?.finalResponse?.output).toEqual([]);
    expect(spool.upstream.requests.length).toBe(before);
    const [generated] = await session(ws, [{ type: 'response.create', model: MODEL, store: false, previous_response_id: warm?.finalResponse?.id, input: 'Reply with exactly: warmed (ws-gen)' }]);
    expect(completedAndValid(generated as Turn)).toEqual([]);
    expect(sentTo('(ws-gen)')).toContain('(ws-warm)');
  });

  specIt('websocket-previous-response-not-found: an unknown id is an error event, and the socket stays open', async () => {
    const ws = await connect();
    const [turn] = await session(ws, [{ type: 'response.create', model: MODEL, store: false, previous_response_id: `resp_openresponses_missing_${Date.now()}`, input: 'This should fail.' }]);
    expect(turn?.errors).toEqual([]);
    expect(errorCode(turn)).toBe('previous_response_not_found');
    expect(turn?.errorEvent).toMatchObject({ type: 'error', status: 400, error: { param: 'previous_response_id' } });
    const [after] = await session(ws, [{ type: 'response.create', model: MODEL, input: 'still here' }]);
    expect(completedAndValid(after as Turn)).toEqual([]);
  });

  specIt('websocket-failed-continuation-evicts-cache: the id a failed continuation referenced is gone', async () => {
    const turns = await session(await connect(), [
      { type: 'response.create', model: MODEL, store: false, input: 'Remember the code word: ember. Reply with OK.' },
      (t) => ({
        type: 'response.create',
        model: MODEL,
        store: false,
        previous_response_id: t[0]?.finalResponse?.id,
        input: [{ type: 'function_call_output', call_id: 'call_openresponses_missing', output: 'No matching tool call exists in the previous response.' }],
      }),
      (t) => ({ type: 'response.create', model: MODEL, store: false, previous_response_id: t[0]?.finalResponse?.id, input: 'Try to continue after the failed turn. Reply with exactly: stale' }),
    ]);
    expect(completedAndValid(turns[0] as Turn)).toEqual([]);
    expect(errorCode(turns[1])).not.toBeNull();
    expect(errorCode(turns[2])).toBe('previous_response_not_found');
  });

  specIt('a store:false response is not found on another connection', async () => {
    const [first] = await session(await connect(), [{ type: 'response.create', model: MODEL, store: false, input: 'Remember: zinc.' }]);
    const [other] = await session(await connect(), [{ type: 'response.create', model: MODEL, store: false, previous_response_id: first?.finalResponse?.id, input: 'and now?' }]);
    expect(errorCode(other)).toBe('previous_response_not_found');
  });

  it('serves the path without /v1 too', async () => {
    const [turn] = await session(await connect('/responses'), [{ type: 'response.create', model: MODEL, input: '!say no prefix' }]);
    expect(turn?.finalResponse?.status).toBe('completed');
  });
});

describe('the openai SDK ResponsesWS client', () => {
  it('creates responses over one connection and continues a stored one from another', async () => {
    const client = spool.client;
    const rws = new ResponsesWS(client);
    const events: OpenAI.Responses.ResponsesServerEvent[] = [];
    const done = new Promise<OpenAI.Responses.Response>((resolve, reject) => {
      rws.on('event', (e) => {
        events.push(e);
        if (e.type === 'response.completed') resolve(e.response);
      });
      rws.on('error', reject);
    });
    rws.send({ type: 'response.create', model: MODEL, input: '!say over the sdk socket' });
    const response = await done;
    rws.close();
    expect(
      response.output_text ??
        response.output
          .flatMap((i) => (i.type === 'message' ? i.content : []))
          .map((c) => (c.type === 'output_text' ? c.text : ''))
          .join(''),
    ).toBe('over the sdk socket');
    expect(events.some((e) => e.type === 'response.output_text.delta')).toBe(true);
    // Stored: an ordinary response, pollable over HTTP and continued over HTTP.
    expect((await client.responses.retrieve(response.id)).status).toBe('completed');
    const next = await client.responses.create({ model: MODEL, previous_response_id: response.id, input: 'what did you say? (sdk-next)' });
    expect(next.status).toBe('completed');
    expect(sentTo('(sdk-next)')).toContain('over the sdk socket');
  });
});

describe('the HTTP view of socket responses', () => {
  it('a background response created over a socket is pollable, resumable over SSE and cancellable; closing the socket cancels nothing', async () => {
    const ws = await connect();
    const created = new Promise<Json>((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Json)));
    ws.send(JSON.stringify({ type: 'response.create', model: MODEL, background: true, input: '!delay 200\n!say slow and steady' }));
    const first = await created;
    expect(first.type).toBe('response.created');
    const id = (first.response as Json).id as string;
    ws.terminate();
    const final = await untilTerminal(spool.client, id);
    expect(final.status).toBe('completed');
    const sse = await readSse(await fetch(`${spool.baseURL}/responses/${id}?stream=true`, { headers: { Authorization: 'Bearer test-key' } }));
    const replay = eventsOf(sse.frames);
    expect(replay[0]?.type).toBe('response.created');
    expect(replay.at(-1)?.type).toBe('response.completed');

    const ws2 = await connect();
    const seen = new Promise<Json>((resolve) => ws2.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Json)));
    ws2.send(JSON.stringify({ type: 'response.create', model: MODEL, background: true, input: '!delay 5000\n!say never' }));
    const id2 = ((await seen).response as Json).id as string;
    const cancelled = await spool.client.responses.cancel(id2);
    expect(cancelled.status).toBe('cancelled');
  });

  it('the same ownership rules: another key cannot continue or read a socket response', async () => {
    const [turn] = await session(await connect(), [{ type: 'response.create', model: MODEL, input: 'Mine: secret-owner-word.' }]);
    const id = turn?.finalResponse?.id as string;
    const other = await open(wsUrl(spool), { Authorization: 'Bearer other-key' });
    sockets.push(other);
    const [stolen] = await session(other, [{ type: 'response.create', model: MODEL, previous_response_id: id, input: 'tell me' }]);
    expect(errorCode(stolen)).toBe('previous_response_not_found');
    await expect(spool.clientWith('other-key').responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('authentication, browser policy and bounds', () => {
  it('refuses an upgrade without a key or with a wrong one (401), as HTTP does; the Azure api-key header works', async () => {
    await expect(open(wsUrl(spool), {})).rejects.toMatchObject({ status: 401 });
    await expect(open(wsUrl(spool), { Authorization: 'Bearer wrong' })).rejects.toMatchObject({ status: 401 });
    const ws = await open(wsUrl(spool), { 'api-key': 'test-key' });
    sockets.push(ws);
    const [turn] = await session(ws, [{ type: 'response.create', model: MODEL, input: '!say azure header' }]);
    expect(turn?.finalResponse?.status).toBe('completed');
  });

  it("takes LiteLLM's header with Bearer on an upgrade at the path without /v1, as a LiteLLM client sends it", async () => {
    await expect(open(wsUrl(spool, '/responses'), { 'x-litellm-api-key': 'Bearer wrong' })).rejects.toMatchObject({ status: 401 });
    const ws = await open(wsUrl(spool, '/responses'), { 'x-litellm-api-key': 'Bearer test-key' });
    sockets.push(ws);
    const [turn] = await session(ws, [{ type: 'response.create', model: MODEL, input: '!say litellm header' }]);
    expect(turn?.finalResponse?.status).toBe('completed');
  });

  it('a keyless server refuses an upgrade from a foreign Origin (403) and accepts a loopback one', async () => {
    const keyless = await startTestSpool({ name: 'websocket-keyless' });
    try {
      const err = await open(wsUrl(keyless), { Origin: 'https://evil.example' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 403 });
      expect(JSON.parse((err as { body: string }).body)).toMatchObject({ error: { code: 'origin_not_allowed' } });
      const ok = await open(wsUrl(keyless), { Origin: 'http://localhost:3000' });
      ok.terminate();
    } finally {
      await keyless.close();
    }
  });

  it('an unknown path is a 404; bad messages are error events that keep the socket open', async () => {
    await expect(open(wsUrl(spool, '/v1/nope'))).rejects.toMatchObject({ status: 404 });
    const ws = await connect();
    const replies: Json[] = [];
    ws.on('message', (d: Buffer) => replies.push(JSON.parse(d.toString()) as Json));
    const next = async () => {
      const n = replies.length;
      for (let i = 0; i < 200 && replies.length === n; i++) await new Promise((r) => setTimeout(r, 10));
      return replies.at(-1);
    };
    ws.send(JSON.stringify({ type: 'response.cancel' }));
    expect(await next()).toMatchObject({ type: 'error', status: 400, error: { code: 'unsupported_event_type' } });
    ws.send(JSON.stringify({ type: 'response.create', input: 'no model' }));
    expect(await next()).toMatchObject({ type: 'error', status: 400, error: { code: 'missing_required_parameter', param: 'model' } });
    ws.send(JSON.stringify({ type: 'response.create', model: MODEL, temperature: 9 }));
    expect(await next()).toMatchObject({ type: 'error', status: 400, error: { param: 'temperature' } });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Unparseable: an error event, then the socket closes (1007).
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('{not json');
    expect(await closed).toBe(1007);
    expect(replies.at(-1)).toMatchObject({ type: 'error', error: { code: 'invalid_json' } });
  });

  it('a message over the size bound closes the socket (1009); a full per-connection queue is an error event', async () => {
    const big = await connect();
    const code = new Promise<number>((resolve) => big.once('close', (c) => resolve(c)));
    big.send(JSON.stringify({ type: 'response.create', model: MODEL, input: 'x'.repeat(80 * 1024) }));
    expect(await code).toBe(1009);

    const ws = await connect();
    const errors: Json[] = [];
    const completed: string[] = [];
    ws.on('message', (d: Buffer) => {
      const e = JSON.parse(d.toString()) as Json;
      if (e.type === 'error') errors.push(e);
      if (e.type === 'response.completed') completed.push(((e.response as Json).output as Json[]).length > 0 ? 'ok' : 'empty');
    });
    // One runs, two wait (ws_max_queued: 2), the fourth is refused.
    for (let i = 0; i < 4; i++) ws.send(JSON.stringify({ type: 'response.create', model: MODEL, input: `!delay 300\n!say queued ${i}` }));
    for (let i = 0; i < 400 && completed.length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    expect(completed).toEqual(['ok', 'ok', 'ok']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 429, error: { code: 'too_many_queued_requests' } });
  });
});

describe('heartbeat and idle time', () => {
  it('pings the client, and closes a connection that stayed idle (nothing sent, nothing running)', async () => {
    const quick = await startTestSpool({ name: 'websocket-idle', file: { limits: { ws_ping_ms: 100, ws_idle_ms: 1000 } } });
    try {
      const ws = await open(wsUrl(quick), {});
      const pinged = new Promise<void>((resolve) => ws.once('ping', () => resolve()));
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      await pinged;
      // A response running keeps the connection: the idle clock starts again after it.
      const [turn] = await session(ws, [{ type: 'response.create', model: MODEL, input: '!say before idling' }]);
      expect(turn?.finalResponse?.status).toBe('completed');
      expect(await closed).toEqual({ code: 1000, reason: 'idle' });
    } finally {
      await quick.close();
    }
  });
});
