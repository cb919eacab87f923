import { describe, expect, it } from 'vitest';
import { poolKey, type McpTarget } from './target.ts';

const http = (over: Partial<Extract<McpTarget, { kind: 'http' }>> = {}): McpTarget => ({
  kind: 'http',
  label: 'srv',
  url: 'https://mcp.example.com/mcp',
  transport: 'auto',
  headers: {},
  timeoutMs: 1_000,
  ...over,
});

describe('poolKey', () => {
  it('separates credentials: different headers never share a session', () => {
    const a = poolKey(http({ headers: { Authorization: 'Bearer alice' } }));
    const b = poolKey(http({ headers: { Authorization: 'Bearer bob' } }));
    expect(a).not.toBe(b);
    expect(poolKey(http())).not.toBe(a);
  });

  it('never contains a secret from the headers, the URL or a stdio env', () => {
    const key = poolKey(http({ url: 'https://mcp.example.com/s3cr3t-path?token=t0ken', headers: { Authorization: 'Bearer sekrit' } }));
    expect(key).toMatch(/^http\|https:\/\/mcp\.example\.com\|[0-9a-f]{64}$/);
    for (const secret of ['sekrit', 's3cr3t', 't0ken']) expect(key).not.toContain(secret);

    const stdio = poolKey({ kind: 'stdio', label: 's', command: 'srv', args: [], env: { API_KEY: 'sekrit' }, timeoutMs: 1 });
    expect(stdio).toMatch(/^stdio\|[0-9a-f]{64}$/);
  });

  it('treats header names case-insensitively and ignores their order, the label and the timeout', () => {
    const a = poolKey(http({ headers: { Authorization: 'x', 'X-A': '1' }, label: 'one', timeoutMs: 5 }));
    const b = poolKey(http({ headers: { 'x-a': '1', authorization: 'x' }, label: 'two', timeoutMs: 9 }));
    expect(a).toBe(b);
  });

  it('separates URLs, transports and stdio commands', () => {
    expect(poolKey(http({ url: 'https://mcp.example.com/a' }))).not.toBe(poolKey(http({ url: 'https://mcp.example.com/b' })));
    expect(poolKey(http({ transport: 'sse' }))).not.toBe(poolKey(http({ transport: 'streamable-http' })));
    const base = { kind: 'stdio' as const, label: 's', command: 'node', args: ['a.js'], env: {}, timeoutMs: 1 };
    expect(poolKey(base)).not.toBe(poolKey({ ...base, args: ['b.js'] }));
    expect(poolKey(base)).not.toBe(poolKey({ ...base, env: { A: '1' } }));
    expect(poolKey(base)).not.toBe(poolKey({ ...base, cwd: '/tmp' }));
  });
});
