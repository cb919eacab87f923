import OpenAI from 'openai';
import { routeFor, type Config, type UpstreamRoute } from '@spool/runtime';
import { createNodeFetch } from './node-fetch.ts';

export interface ResolvedUpstream {
  client: OpenAI;
  model: string;
  maxTokensParam: UpstreamRoute['maxTokensParam'];
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
    private readonly opts: { maxRetries: number; timeoutMs: number },
  ) {}

  resolve(model: string): ResolvedUpstream | null {
    const target = routeFor({ models: this.routes, defaultUpstream: this.fallback }, model);
    if (!target) return null;
    return {
      client: this.client(target.baseUrl, target.apiKey),
      model: target.upstreamModel ?? model,
      maxTokensParam: target.maxTokensParam,
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
