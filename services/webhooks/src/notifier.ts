import type { WebhookJob } from '@spool/contracts';
import { newId, type ResponseStatus } from '@spool/protocol';
import type { Config } from '@spool/runtime';
import type { WebhookEventType } from './sign.ts';

/**
 * Enqueues the webhook deliveries for a background response that reached a terminal status: one
 * job per subscribed endpoint, with a job id derived from the response, event and endpoint, so a
 * repeated notification is a no-op.
 */
export class WebhookNotifier {
  constructor(
    /** Enqueues the deliveries (JobQueues.enqueueWebhooks); null: no endpoint is configured. */
    private readonly enqueue: ((jobs: WebhookJob[], retry: { attempts: number; backoffMs: number }) => Promise<void>) | null,
    private readonly endpoints: Config['webhooks'],
    private readonly retry: { attempts: number; backoffMs: number } = { attempts: 9, backoffMs: 1000 },
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async notify(responseId: string, status: ResponseStatus, background: boolean): Promise<void> {
    if (!this.enqueue || !background || this.endpoints.length === 0) return;
    if (status === 'queued' || status === 'in_progress') return;
    const type = `response.${status}` as WebhookEventType;
    const createdAt = this.now();
    const eventId = newId('evt');
    const jobs = this.endpoints.flatMap((e, endpoint) => (e.events.includes(type) ? [{ responseId, type, endpoint, eventId, createdAt }] : []));
    await this.enqueue(jobs, this.retry);
  }
}
