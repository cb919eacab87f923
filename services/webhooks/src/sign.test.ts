import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { signWebhook, webhookPayload } from './sign.ts';

describe('signWebhook', () => {
  it('produces deliveries the openai SDK verifies', async () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const payload = webhookPayload('response.completed', 'resp_1', 1_700_000_000, 'evt_1');
    const body = JSON.stringify(payload);
    const headers = signWebhook(secret, payload.id, Math.floor(Date.now() / 1000), body);
    const client = new OpenAI({ apiKey: 'x', webhookSecret: secret });
    const event = await client.webhooks.unwrap(body, headers);
    expect(event).toMatchObject({ type: 'response.completed', data: { id: 'resp_1' } });
    await expect(client.webhooks.unwrap(body.replace('resp_1', 'resp_2'), headers)).rejects.toThrow();
  });
});
