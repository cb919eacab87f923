import type { Job } from 'bullmq';
import type { RedisClient } from '@spool/redis';
import { QUEUES, WebhookJobSchema, type Keys } from '@spool/contracts';
import { DeadLetters, startWorker, type RunningWorker } from '@spool/queues';
import type { Config, Logger, Metrics } from '@spool/runtime';
import { signWebhook, webhookPayload } from './sign.ts';

export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';
}

/** Posts one signed event; a non-2xx answer or a network error throws, so BullMQ retries. */
export async function deliver(endpoint: Config['webhooks'][number], job: Job, timeoutMs: number): Promise<number> {
  const data = WebhookJobSchema.parse(job.data);
  const body = JSON.stringify(webhookPayload(data.type, data.responseId, data.createdAt, data.eventId));
  const headers = signWebhook(endpoint.secret, data.eventId, Math.floor(Date.now() / 1000), body);
  const res = await fetch(endpoint.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new WebhookDeliveryError(`Webhook endpoint answered HTTP ${res.status}`);
  return res.status;
}

/**
 * The webhook delivery worker. After the last try, the delivery is written to a bounded
 * dead-letter list (`keys.webhookDeadLetters`) for an operator to inspect or replay.
 */
export function startWebhookWorker(deps: { config: Config; keys: Keys; connection: RedisClient; command: RedisClient; logger: Logger; timeoutMs?: number; metrics?: Metrics }): RunningWorker {
  const deadLetters = new DeadLetters(deps.command, deps.keys);
  const running = startWorker(
    QUEUES.webhooks,
    async (job: Job) => {
      const data = WebhookJobSchema.parse(job.data);
      const endpoint = deps.config.webhooks[data.endpoint];
      if (!endpoint) return { skipped: 'endpoint no longer configured' };
      return { status: await deliver(endpoint, job, deps.timeoutMs ?? 10_000) };
    },
    { connection: deps.connection, keys: deps.keys, logger: deps.logger, concurrency: 16, graceMs: deps.config.limits.shutdown_grace_ms },
  );
  const { worker } = running;
  worker.on('completed', () => deps.metrics?.webhookDeliveries.inc({ status: 'delivered' }));
  worker.on('failed', (job, err) => {
    deps.metrics?.webhookDeliveries.inc({ status: 'failed' });
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    deps.metrics?.webhookDeliveries.inc({ status: 'dead' });
    const record = { job: job.data, url: deps.config.webhooks[job.data.endpoint]?.url ?? null, error: err.message, attempts: job.attemptsMade, failed_at: Math.floor(Date.now() / 1000) };
    deadLetters.push(record).catch((e: unknown) => deps.logger.error({ err: e }, 'could not write webhook dead letter'));
    deps.logger.warn({ responseId: job.data.responseId, type: job.data.type, error: err.message }, 'webhook delivery failed for good');
  });
  return running;
}
