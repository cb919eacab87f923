/// <reference lib="dom" />
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { haveChromium, launchChromium } from './support/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * A real browser, as a user's would be while Spool runs on their machine: a page on another origin
 * (`evil.test`, mapped to 127.0.0.1 by Chromium's resolver so no network is needed) tries to drive
 * a keyless, loopback-only Spool. Then a listed origin uses CORS as a web app would.
 */

let browser: Browser;
let pages: Server;
let pagePort: number;

beforeAll(async () => {
  if (!haveChromium) return;
  pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title>'));
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  pagePort = (pages.address() as AddressInfo).port;
  browser = await launchChromium(['--host-resolver-rules=MAP evil.test 127.0.0.1, MAP app.test 127.0.0.1']);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (pages ? pages.close(r) : r(undefined)));
});

async function recordKeys(spool: TestSpool): Promise<number> {
  const redis = new Redis(spool.redisUrl);
  try {
    const [, keys] = await redis.scan('0', 'MATCH', `${spool.prefix}resp:*`, 'COUNT', 10_000);
    return keys.length;
  } finally {
    redis.disconnect();
  }
}

describe.skipIf(!haveChromium)('a page in a real browser', () => {
  let spool: TestSpool;
  beforeAll(async () => {
    spool = await startTestSpool({ name: 'browser' });
  });
  afterAll(() => spool?.close());

  it('cannot make a keyless Spool run anything from another origin: no-cors text/plain, JSON and a form post all fail', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://evil.test:${pagePort}/`);
      const target = `${spool.baseURL}/responses`;
      const outcome = await page.evaluate(async (url) => {
        const body = JSON.stringify({ model: 'm', input: 'spend the upstream key', background: true });
        const results: string[] = [];
        // A "simple" request: no preflight, the browser sends it and hides the answer.
        await fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }).then(
          () => results.push('no-cors sent'),
          (e: unknown) => results.push(`no-cors ${String(e)}`),
        );
        // JSON needs a preflight, which gets no CORS headers.
        await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
          () => results.push('json read'),
          () => results.push('json blocked'),
        );
        navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }));
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = url;
        form.enctype = 'text/plain';
        const field = document.createElement('input');
        field.name = body.slice(0, -2);
        field.value = '"}';
        form.append(field);
        document.body.append(form);
        return results;
      }, target);
      expect(outcome).toContain('json blocked');
      const [answer] = await Promise.all([page.waitForResponse(() => true), page.evaluate(() => document.forms[0]?.submit())]);
      expect(answer.status()).toBe(403);
      await new Promise((r) => setTimeout(r, 300));
      expect(spool.upstream.requests).toHaveLength(0);
      expect(await recordKeys(spool)).toBe(0);
    } finally {
      await page.close();
    }
  });
});

describe.skipIf(!haveChromium)('WebSocket mode in a real browser', () => {
  let spool: TestSpool;
  beforeAll(async () => {
    spool = await startTestSpool({ name: 'browser-ws' });
  });
  afterAll(() => spool?.close());

  /** Opens a socket from the page, sends one response.create, and reports how it went. */
  const drive = ([url, input]: readonly [string, string]) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => resolve('timeout'), 10_000);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'response.create', model: 'm', input }));
      ws.onmessage = (m) => {
        const e = JSON.parse(String(m.data)) as { type: string; response?: { output: Array<{ content?: Array<{ text: string }> }> } };
        if (e.type === 'response.completed') {
          clearTimeout(timer);
          resolve(`completed: ${e.response?.output[0]?.content?.[0]?.text ?? ''}`);
          ws.close();
        }
      };
      ws.onclose = () => {
        clearTimeout(timer);
        resolve('closed');
      };
    });

  it('a page on this machine can use a keyless Spool over a WebSocket; a page on another origin cannot open one', async () => {
    const url = `${spool.url.replace(/^http/, 'ws')}/v1/responses`;
    const local = await browser.newPage();
    const evil = await browser.newPage();
    try {
      await local.goto(`http://localhost:${pagePort}/`);
      expect(await local.evaluate(drive, [url, '!say from a local page'] as const)).toBe('completed: from a local page');
      // Browsers send no preflight for WebSockets and apply no CORS: the Origin check is all there is.
      await evil.goto(`http://evil.test:${pagePort}/`);
      expect(await evil.evaluate(drive, [url, 'spend the upstream key (ws)'] as const)).toBe('closed');
      expect(JSON.stringify(spool.upstream.requests)).not.toContain('spend the upstream key (ws)');
    } finally {
      await local.close();
      await evil.close();
    }
  });
});

describe.skipIf(!haveChromium)('a web app on a listed origin', () => {
  let spool: TestSpool;
  beforeAll(async () => {
    spool = await startTestSpool({ name: 'browser-cors', file: { api_keys: ['k-web'], cors: { allow_origins: [`http://app.test:${pagePort}`] } }, apiKey: 'k-web' });
  });
  afterAll(() => spool?.close());

  it('calls Spool with its key and reads the answer (CORS for that origin only)', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://app.test:${pagePort}/`);
      const text = await page.evaluate(async (url) => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer k-web' },
          body: JSON.stringify({ model: 'm', input: 'from the web app' }),
        });
        const r = (await res.json()) as { output: Array<{ content?: Array<{ text: string }> }> };
        return r.output[0]?.content?.[0]?.text ?? '';
      }, `${spool.baseURL}/responses`);
      expect(text).toContain('from the web app');
      const other = await browser.newPage();
      await other.goto(`http://evil.test:${pagePort}/`);
      const blocked = await other.evaluate(async (url) => {
        try {
          await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k-web' }, body: '{"model":"m","input":"x"}' });
          return 'read';
        } catch {
          return 'blocked';
        }
      }, `${spool.baseURL}/responses`);
      expect(blocked).toBe('blocked');
      await other.close();
    } finally {
      await page.close();
    }
  });
});
