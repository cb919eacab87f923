export { signWebhook, webhookPayload, secretKey, type WebhookEventType, type WebhookPayload } from './sign.ts';
export { WebhookNotifier } from './notifier.ts';
export { deliver, startWebhookWorker, WebhookDeliveryError } from './delivery.ts';
