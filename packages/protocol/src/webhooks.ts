import { z } from 'zod';

/** The webhook events OpenAI sends for background responses (and the only ones Spool sends). */
export const WebhookEventTypeSchema = z.enum(['response.completed', 'response.failed', 'response.cancelled', 'response.incomplete']);
export type WebhookEventType = z.infer<typeof WebhookEventTypeSchema>;
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = WebhookEventTypeSchema.options;
