import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import type { ResponseCreateParamsStreaming, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { routeFor, upstreamModelFor, type Config, type UpstreamRoute } from '@spool/runtime';
import { createNodeFetch } from './node-fetch.ts';
import { readSseJson } from './upstream-body.ts';

/**
 * A streamed Chat Completions call: the SDK makes it (and retries, times out, throws `APIError`
 * for HTTP errors); its chunks are read by upstream-body.ts. `onChunks` gets the chunks of each
 * network read together.
 */
export async function streamChat(
  client: OpenAI,
  params: ChatCompletionCreateParamsStreaming,
  signal: AbortSignal,
  onChunks: (chunks: ChatCompletionChunk[]) => void,
  idleTimeoutMs?: number,
): Promise<void> {
  const response = await client.chat.completions.create(params, { signal }).asResponse();
  await readSseJson<ChatCompletionChunk>(response, onChunks, idleTimeoutMs);
}

/**
 * A streamed Responses call to an upstream that speaks the Responses API natively: the SDK makes
 * it as for Chat Completions, and its events are read by upstream-body.ts. The abort signal ends
 * the request, which closes the upstream stream (a cancel reaches the upstream at once).
 */
export async function streamResponses(
  client: OpenAI,
  params: ResponseCreateParamsStreaming,
  signal: AbortSignal,
  onEvents: (events: ResponseStreamEvent[]) => void,
  idleTimeoutMs?: number,
): Promise<void> {
  const response = await client.responses.create(params, { signal }).asResponse();
  await readSseJson<ResponseStreamEvent>(response, onEvents, idleTimeoutMs, { typedErrors: true });
}

/**
 * A non-streamed Chat Completions call, wholly the SDK's: it also bounds reading the body by the
 * timeout, and its JSON parse is no larger a cost than reading the body here would be.
 */
export function completeChat(client: OpenAI, params: ChatCompletionCreateParamsNonStreaming, signal: AbortSignal): Promise<ChatCompletion> {
  return client.chat.completions.create(params, { signal });
}

export interface ResolvedUpstream {
  client: OpenAI;
  model: string;
  maxTokensParam: UpstreamRoute['maxTokensParam'];
  /** How long a streamed body may send nothing before the turn fails (limits.upstream_idle_timeout_ms). */
  idleTimeoutMs: number;
  /** The route as configured: drop_params, context_window, reasoning feedback. */
  route: UpstreamRoute;
  /** The protocol the upstream is called with (the route's `api`). */
  api: 'chat' | 'responses';
}

/**
 * Routes a request's model to an upstream: the first configured route that matches, else the
 * default upstream. One `openai` client per upstream, reused across jobs (keeps connections warm).
 * The SDK's own retry (exponential backoff, honours retry-after) retries 429/5xx and connection
 * errors before the first byte of a stream; after that an error fails the response. The clients
 * share one `node:http` fetch (node-fetch.ts: the same SDK, less CPU per call than undici's fetch).
 */
export class Upstreams {
  private readonly clients = new Map<string, OpenAI>();
  private readonly http = createNodeFetch();

  constructor(
    private readonly routes: UpstreamRoute[],
    private readonly fallback: Config['defaultUpstream'],
    private readonly opts: { maxRetries: number; timeoutMs: number; idleTimeoutMs?: number },
  ) {}

  resolve(model: string): ResolvedUpstream | null {
    const target = routeFor({ models: this.routes, defaultUpstream: this.fallback }, model);
    if (!target) return null;
    return {
      client: this.client(target.baseUrl, target.apiKey),
      model: upstreamModelFor(target, model),
      maxTokensParam: target.maxTokensParam,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 120_000,
      route: target,
      api: target.api ?? 'chat',
    };
  }

  private client(baseURL: string, apiKey: string): OpenAI {
    const key = `${baseURL}\u0000${apiKey}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new OpenAI({ baseURL, apiKey, maxRetries: this.opts.maxRetries, timeout: this.opts.timeoutMs, fetch: this.http.fetch });
      this.clients.set(key, c);
    }
    return c;
  }

  /** Closes pooled upstream connections (after the worker has stopped taking jobs). */
  close(): void {
    this.http.close();
  }
}
