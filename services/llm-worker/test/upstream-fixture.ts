import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startScriptedUpstream, type ScriptedUpstream } from '@spool/testkit';
import { createNodeFetch } from '../src/node-fetch.ts';

/**
 * What the tests of the worker's upstream client share: the scripted upstream, the worker's fetch,
 * `openai` clients over that fetch, and one-off HTTP servers for answers the upstream cannot script.
 * Call `open` in beforeAll and `close` in afterAll.
 */
export function upstreamFixture() {
  let upstream: ScriptedUpstream | null = null;
  const http = createNodeFetch();
  const servers: Server[] = [];
  return {
    get upstream(): ScriptedUpstream {
      if (!upstream) throw new Error('upstreamFixture: call open() first');
      return upstream;
    },
    /** Ad-hoc servers, newest last (a test may close one to get a refused port). */
    servers,
    client: (baseURL: string, maxRetries = 0) => new OpenAI({ baseURL, apiKey: 'k', maxRetries, fetch: http.fetch }),
    /** Serves `handler` on a free loopback port; resolves with its `/v1` base URL. */
    async serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
      const server = createServer(handler);
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    },
    async open(): Promise<void> {
      upstream = await startScriptedUpstream({ host: '127.0.0.1' });
    },
    async close(): Promise<void> {
      http.close();
      await upstream?.close();
      for (const s of servers) s.close();
    },
  };
}
