/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { haveChromium, launchChromium } from './support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, unreachableUrl, type TestMcpServer } from '@spool/testkit';
import { sampleValue } from './support/prometheus.ts';
import { startTestSpool, untilTerminal, type TestSpool } from './support/spool.ts';

/**
 * The operator's console in headless Chromium against a running Spool on real Redis: sign in with
 * an admin key, see a response a client created, watch its events, and answer an approval with
 * the page's button, which runs the tool exactly once.
 */

let browser: Browser;
let spool: TestSpool;
let mcp: TestMcpServer;

beforeAll(async () => {
  if (!haveChromium) return;
  browser = await launchChromium();
  mcp = await startTestMcpServer({});
  spool = await startTestSpool({
    name: 'console',
    env: { SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1' },
    file: {
      api_keys: [{ name: 'alice', key: 'alice-key' }],
      admin_keys: ['admin-key'],
      // Every background response's webhook fails at once: the console lists the dead letters.
      webhooks: [{ url: await unreachableUrl('/hook'), secret: `whsec_${Buffer.alloc(32, 9).toString('base64')}`, events: ['response.completed'] }],
      limits: { webhook_attempts: 1, webhook_backoff_ms: 10 },
    },
    apiKey: 'alice-key',
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await spool?.close();
  await mcp?.close();
});

async function signedIn(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${spool.url}/console`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#admin-key', 'admin-key');
  await page.click('#sign-in');
  await page.locator('#app').waitFor({ state: 'visible' });
  return page;
}

describe.skipIf(!haveChromium)('the console in a real browser', () => {
  it('refuses a key that is not an admin key, and keeps the admin key out of cookies', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${spool.url}/console`);
      await page.locator('#login').waitFor({ state: 'visible' });
      await page.fill('#admin-key', 'alice-key');
      await page.click('#sign-in');
      await expect.poll(() => page.textContent('#login-error')).toMatch(/not an admin key/);
      expect(await page.isVisible('#app')).toBe(false);
      expect(await page.context().cookies()).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows a response a client created, with its key name, and streams its events', async () => {
    const page = await signedIn();
    try {
      const r = await spool.client.responses.create({ model: 'console-model', input: '!words 4' });
      const row = page.locator(`#responses tr[data-id="${r.id}"]`);
      await row.waitFor({ state: 'visible' });
      expect(await row.locator('td').allTextContents()).toEqual([r.id, 'completed', 'console-model', 'alice', expect.stringMatching(/^\d+s$/), String(r.usage!.total_tokens)]);
      await row.click();
      await page.locator('#events li[data-type="response.completed"]').waitFor();
      const types = await page.locator('#events li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.type));
      expect(types[0]).toBe('response.created');
      expect(types).toContain('response.output_text.delta');
      expect(types.at(-1)).toBe('response.completed');
      // Usage of the day, per key and model.
      await expect.poll(() => page.locator('#usage tbody tr').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('aliceconsole-model1')]));
    } finally {
      await page.close();
    }
  });

  it('renders events of a running response live, and they match the log', async () => {
    const page = await signedIn();
    try {
      const bg = await spool.client.responses.create({ model: 'm', input: '!delay 300\n!words 6', background: true });
      await page.locator(`#responses tr[data-id="${bg.id}"]`).click();
      await page.locator('#events li[data-type="response.completed"]').waitFor();
      const shown = await page.locator('#events li').allTextContents();
      const logged: string[] = [];
      const stream = await spool.client.responses.retrieve(bg.id, { stream: true, starting_after: -1 } as never);
      for await (const e of stream as unknown as AsyncIterable<{ type: string; sequence_number: number }>) logged.push(`${e.sequence_number} ${e.type}`);
      expect(shown.map((s) => s.split(' ').slice(0, 2).join(' '))).toEqual(logged);
      // Resuming: the console's stream starts after the last number it had.
      const resumed = await page.evaluate(async (id) => {
        const res = await fetch(`/console/api/responses/${id}/events?starting_after=3`, { headers: { Authorization: `Bearer ${sessionStorage.getItem('spoolAdminKey')}` } });
        return (await res.text())
          .split('\n')
          .filter((l) => l.startsWith('data: {'))
          .map((l) => (JSON.parse(l.slice(6)) as { sequence_number: number }).sequence_number);
      }, bg.id);
      expect(resumed).toEqual(logged.slice(4).map((l) => Number(l.split(' ')[0])));
    } finally {
      await page.close();
    }
  });

  it('approves a parked call with the page button: the tool runs exactly once, through a follow-up response', async () => {
    const page = await signedIn();
    try {
      const tools = [{ type: 'mcp' as const, server_label: 't', server_url: mcp.url }];
      const before = mcp.calls.filter((c) => c.name === 'delete_thing').length;
      const parked = await spool.client.responses.create({ model: 'm', input: '!call t__delete_thing {"id":"console-7"}', tools });
      const request = parked.output.find((i) => i.type === 'mcp_approval_request');
      expect(request).toBeDefined();
      const row = page.locator(`#approvals tr[data-approval-id="${request!.id}"]`);
      await row.waitFor({ state: 'visible' });
      expect(await row.locator('td').first().textContent()).toBe('t / delete_thing');
      expect(await row.locator('td.args').textContent()).toBe('{"id":"console-7"}');
      await row.locator('button.approve').click();
      await expect.poll(() => page.locator('#approval-result').getAttribute('data-response-id')).toMatch(/^resp_/);
      const followUpId = (await page.locator('#approval-result').getAttribute('data-response-id')) as string;
      const followUp = await untilTerminal(spool.client, followUpId);
      expect(followUp.previous_response_id).toBe(parked.id);
      expect(followUp.output[0]).toMatchObject({ type: 'mcp_call', name: 'delete_thing', approval_request_id: request!.id, status: 'completed' });
      expect(mcp.calls.filter((c) => c.name === 'delete_thing').length).toBe(before + 1);
      await row.waitFor({ state: 'detached' });

      // The same approval cannot be used again, from the console's API or by the client.
      const again = await page.evaluate(
        async ([rid, aid]) => {
          const res = await fetch(`/console/api/approvals/${rid}/${aid}`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${sessionStorage.getItem('spoolAdminKey')}`, 'Content-Type': 'application/json' },
            body: '{"approve":true}',
          });
          return { status: res.status, body: await res.json() };
        },
        [parked.id, request!.id] as const,
      );
      expect(again).toMatchObject({ status: 400, body: { error: { code: 'approval_already_used' } } });
      await expect(
        spool.client.responses.create({ model: 'm', previous_response_id: parked.id, tools, input: [{ type: 'mcp_approval_response', approval_request_id: request!.id, approve: true }] }),
      ).rejects.toMatchObject({ status: 400 });
      expect(mcp.calls.filter((c) => c.name === 'delete_thing').length).toBe(before + 1);
    } finally {
      await page.close();
    }
  });

  it('lists dead-lettered webhooks', async () => {
    const page = await signedIn();
    try {
      const bg = await spool.client.responses.create({ model: 'm', input: 'hook me', background: true });
      await untilTerminal(spool.client, bg.id);
      const row = page.locator('#dead-letters tbody tr', { hasText: bg.id });
      await row.waitFor({ state: 'visible', timeout: 20_000 });
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(0, 2)).toEqual([bg.id, 'response.completed']);
      expect(cells[2]).toMatch(/\/hook$/);
      expect(cells[4]).toBe('1');
      const scrape = await (await fetch(`${spool.url}/metrics`, { headers: { Authorization: 'Bearer admin-key' } })).text();
      expect(sampleValue(scrape, 'spool_webhook_deliveries_total', { status: 'dead' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(scrape, 'spool_webhook_deliveries_total', { status: 'failed' })).toBeGreaterThanOrEqual(1);
    } finally {
      await page.close();
    }
  });

  it('opens the read-only bull-board queues view for a signed-in browser only', async () => {
    const anonymous = await fetch(`${spool.url}/console/queues`);
    expect(anonymous.status).toBe(401);
    const page = await signedIn();
    try {
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#open-queues')]);
      await popup.waitForLoadState();
      await popup.getByText('turns', { exact: false }).first().waitFor();
      expect(await popup.title()).toMatch(/Spool queues/);
      // State-changing calls are refused, cookie or not.
      const put = await popup.evaluate(async () => (await fetch('/console/queues/api/queues/turns/pause', { method: 'PUT' })).status);
      expect(put).toBe(405);
      await popup.close();
    } finally {
      await page.close();
    }
  });
});
