import { createHmac } from 'node:crypto';
import { newId, type WebhookEventType } from '@spool/protocol';

export type { WebhookEventType };

/** The event body OpenAI sends: only the id; receivers GET the response. */
export interface WebhookPayload {
  id: string;
  object: 'event';
  type: WebhookEventType;
  created_at: number;
  data: { id: string };
}

export function webhookPayload(type: WebhookEventType, responseId: string, createdAt: number, eventId = newId('evt')): WebhookPayload {
  return { id: eventId, object: 'event', type, created_at: createdAt, data: { id: responseId } };
}

/** `whsec_<base64>` secrets are base64-decoded; others are used as UTF-8, as Standard Webhooks says. */
export function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * Standard Webhooks headers: `webhook-signature` is `v1,<base64 HMAC-SHA256>` over
 * `${id}.${timestamp}.${body}` (what the openai SDK's `webhooks.unwrap()` verifies).
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  const signature = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${signature}`,
    'user-agent': 'Spool-Webhooks/1',
  };
}
