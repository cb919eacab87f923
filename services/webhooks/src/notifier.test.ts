import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, QUEUES } from '@spool/contracts';
import { JobQueues } from '@spool/queues';
import { createLogger } from '@spool/runtime';
import { deleteByPrefix, uniquePrefix } from '@spool/testkit';
import { WEBHOOK_BACKOFF_JITTER } from '@spool/contracts';
import { WebhookNotifier } from './notifier.ts';

const redisUrl = process.env.SPOOL_TEST_REDIS_URL ?? (process.env.REDIS_URL as string);
const prefix = `${uniquePrefix('notifier')}:`;
let connection: Redis;
let queues: JobQueues;

beforeAll(() => {
  connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  queues = new JobQueues({ connection, keys: createKeys(prefix), logger: createLogger('silent'), maxTurns: 1 });
});
afterAll(async () => {
  await queues.close();
  connection.disconnect();
  await deleteByPrefix(redisUrl, prefix);
});

describe('WebhookNotifier', () => {
  it('enqueues deliveries whose retries back off exponentially with jitter (an outage is not followed by a thundering herd)', async () => {
    const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    const notifier = new WebhookNotifier((jobs, retry) => queues.enqueueWebhooks(jobs, retry), [{ url: 'https://hooks.example.com/a', secret, events: ['response.completed'] }], {
      attempts: 5,
      backoffMs: 200,
    });
    await notifier.notify('resp_1', 'completed', true);
    const [job] = await queues.queue(QUEUES.webhooks).getJobs(['waiting', 'delayed', 'prioritized']);
    expect(job?.opts).toMatchObject({ attempts: 5, backoff: { type: 'exponential', delay: 200, jitter: WEBHOOK_BACKOFF_JITTER } });
    expect(WEBHOOK_BACKOFF_JITTER).toBeGreaterThan(0);
  });
});
