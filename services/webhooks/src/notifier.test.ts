import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, QUEUES } from '@spool/contracts';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { WEBHOOK_BACKOFF_JITTER } from '@spool/contracts';
import { WebhookNotifier } from './notifier.ts';

const redisUrl = process.env.SPOOL_TEST_REDIS_URL ?? (process.env.REDIS_URL as string);
const prefix = `${uniquePrefix('notifier')}:`;
let connection: Redis;
let queue: Queue;

beforeAll(() => {
  connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.webhooks, { connection, prefix: createKeys(prefix).bullPrefix });
});
afterAll(async () => {
  await queue.close();
  connection.disconnect();
  await deleteByPrefix(redisUrl, prefix);
});

describe('WebhookNotifier', () => {
  it('enqueues deliveries whose retries back off exponentially with jitter (an outage is not followed by a thundering herd)', async () => {
    const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const notifier = new WebhookNotifier(queue, [{ url: 'https://hooks.example.com/a', secret, events: ['response.completed'] }], { attempts: 5, backoffMs: 200 });
    await notifier.notify('resp_1', 'completed', true);
    const [job] = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 200, jitter: WEBHOOK_BACKOFF_JITTER } });
    expect(WEBHOOK_BACKOFF_JITTER).toBeGreaterThan(0);
  });
});
