import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSpool, until, type TestSpool } from './support/spool.ts';

/** Webhooks arrive as real HTTP deliveries on loopback and verify with the openai SDK. */
const SECRET = `whsec_${Buffer.from('spool-webhook-test-secret-32byte').toString('base64')}`;
interface Delivery {
  body: string;
  headers: Record<string, string>;
}
let spool: TestSpool;
let receiver: Server;
let base: string;
const received: Record<string, Delivery[]> = { ok: [], flaky: [], dead: [] };
/** The flaky endpoint refuses the first two deliveries of each response. */
const flakySeen = new Map<string, number>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const route = (req.url ?? '').slice(1);
      received[route]?.push({ body, headers: req.headers as Record<string, string> });
      const id = (JSON.parse(body) as { data: { id: string } }).data.id;
      const seen = (flakySeen.get(id) ?? 0) + (route === 'flaky' ? 1 : 0);
      flakySeen.set(id, seen);
      if (route === 'dead' || (route === 'flaky' && seen <= 2)) res.writeHead(500).end();
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  spool = await startTestSpool({
    name: 'webhooks',
    file: {
      webhooks: [
        { url: `${base}/ok`, secret: SECRET },
        { url: `${base}/flaky`, secret: SECRET, events: ['response.completed'] },
        { url: `${base}/dead`, secret: SECRET, events: ['response.failed'] },
      ],
      limits: { webhook_attempts: 3, webhook_backoff_ms: 50, upstream_max_retries: 0 },
    },
  });
});
afterAll(async () => {
  await spool?.close();
  await new Promise((r) => receiver?.close(r));
});

const verifier = new OpenAI({ apiKey: 'x', webhookSecret: SECRET });

describe('webhooks', () => {
  it('sends response.completed for a background response, signed so that webhooks.unwrap() verifies it', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: 'hi', background: true });
    const delivery = await until(async () => received.ok!.find((d) => d.body.includes(r.id)));
    const event = await verifier.webhooks.unwrap(delivery.body, delivery.headers);
    expect(event).toMatchObject({ type: 'response.completed', object: 'event', data: { id: r.id } });
    expect(event.id).toMatch(/^evt_/);
  });

  it('retries with backoff until the endpoint accepts', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: 'again', background: true });
    await until(async () => received.flaky!.filter((d) => d.body.includes(r.id)).length >= 3 || null);
    expect(received.flaky!.filter((d) => d.body.includes(r.id))).toHaveLength(3);
  });

  it('sends response.failed, and records a dead letter after the last try', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: '!fail 500', background: true });
    const delivery = await until(async () => received.ok!.find((d) => d.body.includes(r.id)));
    expect(await verifier.webhooks.unwrap(delivery.body, delivery.headers)).toMatchObject({ type: 'response.failed' });
    const redis = spool.connectRedis();
    try {
      const dead = await until(async () => {
        const list = await redis.lrange(`${spool.prefix}webhooks:dead`, 0, -1);
        return list.find((x) => x.includes(r.id));
      });
      expect(JSON.parse(dead)).toMatchObject({ url: `${base}/dead`, attempts: 3, job: { responseId: r.id, type: 'response.failed' } });
    } finally {
      redis.disconnect();
    }
    expect(received.dead!.filter((d) => d.body.includes(r.id))).toHaveLength(3);
  });

  it('sends response.cancelled when a background response is cancelled', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: '!delay 200\n!words 50', background: true });
    await spool.client.responses.cancel(r.id);
    const delivery = await until(async () => received.ok!.find((d) => d.body.includes(r.id)));
    expect(await verifier.webhooks.unwrap(delivery.body, delivery.headers)).toMatchObject({ type: 'response.cancelled', data: { id: r.id } });
  });

  it('sends nothing for responses that are not background', async () => {
    const r = await spool.client.responses.create({ model: 'm', input: 'sync' });
    await new Promise((res) => setTimeout(res, 300));
    expect(received.ok!.some((d) => d.body.includes(r.id))).toBe(false);
  });
});
