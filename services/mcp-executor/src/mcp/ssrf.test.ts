import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { McpServerError, McpUrlNotAllowedError } from './errors.ts';
import { McpClientPool } from './pool.ts';
import { assertUrlAllowed, classifyAddress, guardedLookup, isPrivateAddress, parseAllowList, parseIp } from './ssrf.ts';

const NOTHING_ALLOWED = parseAllowList([]);

/** A resolver that answers from a table: the tests never query DNS. */
function fakeDns(table: Record<string, string[]>): (host: string) => Promise<string[]> {
  return async (host) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  };
}

describe('isPrivateAddress', () => {
  it.each([
    // private
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fd00:ec2::254', 'private'],
    // loopback
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    // link-local, including the cloud metadata endpoint
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    // unspecified
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    // IPv4-mapped and other IPv6 forms embedding a private IPv4
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:0:192.168.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    // reserved, multicast
    ['0.1.2.3', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['fec0::1', 'private'],
  ] as const)('%s is %s', (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '192.169.0.1',
    '169.255.0.1',
    '100.63.255.255',
    '100.128.0.0',
    '11.0.0.1',
    '126.255.255.255',
    '128.0.0.1',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    'fbff:ffff::1',
    'fe7f::1',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is public', (ip) => {
    expect(classifyAddress(ip)).toBe('public');
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it('fails closed on anything that is not an IP address', () => {
    for (const text of ['', 'localhost', 'example.com', '1.2.3', '1.2.3.256', '::ffff::1', '12345::', '1.2.3.4/8']) {
      expect(isPrivateAddress(text)).toBe(true);
    }
  });
});

describe('parseIp', () => {
  it('expands compressed IPv6 and embedded IPv4', () => {
    expect(parseIp('::ffff:1.2.3.4')).toEqual({ version: 6, value: 0xffff_0102_0304n });
    expect(parseIp('1::')).toEqual({ version: 6, value: 1n << 112n });
    expect(parseIp('1:2:3:4:5:6:7:8')?.value).toBe(0x0001_0002_0003_0004_0005_0006_0007_0008n);
    expect(parseIp('1.2.3.4')).toEqual({ version: 4, value: 0x0102_0304n });
    expect(parseIp('nope')).toBeNull();
  });
});

describe('parseAllowList', () => {
  it('accepts host names, wildcards, IPs and CIDRs of both families', () => {
    const allow = parseAllowList([' mcp.internal ', '*.svc.cluster.local', '127.0.0.1', '[::1]', '10.0.0.0/8', 'fd00::/8', '']);
    expect([...allow.hosts]).toEqual(['mcp.internal']);
    expect(allow.hostSuffixes).toEqual(['.svc.cluster.local']);
    expect(allow.ranges).toEqual([
      { version: 4, base: 0x7f00_0001n, prefix: 32 },
      { version: 6, base: 1n, prefix: 128 },
      { version: 4, base: 0x0a00_0000n, prefix: 8 },
      { version: 6, base: 0xfd00n << 112n, prefix: 8 },
    ]);
  });

  it('clears host bits of a CIDR', () => {
    expect(parseAllowList(['10.1.2.3/8']).ranges).toEqual([{ version: 4, base: 0x0a00_0000n, prefix: 8 }]);
  });

  it('reports every invalid entry at once', () => {
    expect(() => parseAllowList(['10.0.0.0/33', 'not a host', '::1/129', 'ok.example', '1.2.3.4/x'])).toThrow(/'10\.0\.0\.0\/33'.*'not a host'.*'::1\/129'.*'1\.2\.3\.4\/x'/);
  });
});

describe('assertUrlAllowed', () => {
  const lookup = fakeDns({
    'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'internal.example': ['10.1.2.3'],
    'mixed.example': ['93.184.216.34', '192.168.0.10'],
    'metadata.example': ['169.254.169.254'],
    'mapped.example': ['::ffff:127.0.0.1'],
    'empty.example': [],
    'svc.local': ['10.0.0.5'],
  });

  async function refusal(url: string, allow = NOTHING_ALLOWED): Promise<McpUrlNotAllowedError> {
    const error = await assertUrlAllowed(url, allow, { lookup }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(McpUrlNotAllowedError);
    expect((error as McpUrlNotAllowedError).code).toBe('mcp_server_url_not_allowed');
    return error as McpUrlNotAllowedError;
  }

  it('allows public hosts and public IP literals', async () => {
    await expect(assertUrlAllowed('https://public.example/mcp', NOTHING_ALLOWED, { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://8.8.8.8:8080/sse', NOTHING_ALLOWED, { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('https://[2606:4700:4700::1111]/', NOTHING_ALLOWED, { lookup })).resolves.toBeUndefined();
  });

  it('refuses schemes other than http and https', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://public.example/', 'ws://public.example/', 'gopher://x/']) {
      expect((await refusal(url)).message).toMatch(/http or https/);
    }
    expect((await refusal('not a url')).message).toMatch(/not a valid URL/);
  });

  it('refuses names resolving to private addresses, without echoing the address', async () => {
    const error = await refusal('https://internal.example/mcp');
    expect(error.message).toContain("'internal.example' resolves to a private address");
    expect(error.message).not.toContain('10.1.2.3');
    expect((await refusal('https://metadata.example/')).message).toMatch(/link-local/);
    expect((await refusal('https://mapped.example/')).message).toMatch(/loopback/);
  });

  it('refuses when any one of the resolved addresses is private', async () => {
    await refusal('https://mixed.example/');
  });

  it('refuses private IP literals in every spelling the URL parser accepts', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://127.1/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0177.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://0.0.0.0:3000/',
      'http://[::]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]/',
      'http://[fd00::1]/',
    ]) {
      await refusal(url);
    }
  });

  it('lets the allow list open a host name, an IP or a CIDR', async () => {
    await expect(assertUrlAllowed('http://internal.example/', parseAllowList(['internal.example']), { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://INTERNAL.example./', parseAllowList(['internal.example']), { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://internal.example/', parseAllowList(['10.0.0.0/8']), { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://a.b.svc.local/', parseAllowList(['*.svc.local']), { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://[::1]:80/', parseAllowList(['::1']), { lookup })).resolves.toBeUndefined();
    await expect(assertUrlAllowed('http://mapped.example/', parseAllowList(['127.0.0.0/8']), { lookup })).resolves.toBeUndefined();
    // The allow list opens exactly what it names.
    await refusal('http://internal.example/', parseAllowList(['10.2.0.0/16']));
    await refusal('http://svc.local/', parseAllowList(['*.svc.local']));
    await refusal('http://127.0.0.2/', parseAllowList(['127.0.0.1']));
    await refusal('http://mixed.example/', parseAllowList(['10.0.0.0/8']));
  });

  it('throws mcp_unreachable for a name that does not resolve', async () => {
    for (const url of ['http://nowhere.example/', 'http://empty.example/']) {
      const error = await assertUrlAllowed(url, NOTHING_ALLOWED, { lookup }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpServerError);
      expect((error as McpServerError).code).toBe('mcp_unreachable');
    }
  });
});

describe('assertUrlAllowed end to end, on loopback only', () => {
  let server: TestMcpServer;
  beforeAll(async () => {
    server = await startTestMcpServer({});
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses a live loopback MCP server before any connection, and the allow list opens it', async () => {
    await expect(assertUrlAllowed(server.url, NOTHING_ALLOWED)).rejects.toMatchObject({
      code: 'mcp_server_url_not_allowed',
    });
    const viaLocalhost = server.url.replace('127.0.0.1', 'localhost');
    // `localhost` is answered from /etc/hosts by the system resolver.
    await expect(assertUrlAllowed(viaLocalhost, NOTHING_ALLOWED)).rejects.toMatchObject({
      code: 'mcp_server_url_not_allowed',
    });
    expect(server.requests).toHaveLength(0);

    const allow = parseAllowList(['127.0.0.0/8']);
    await assertUrlAllowed(server.url, allow);
    const pool = new McpClientPool();
    try {
      const tools = await pool.listTools({
        kind: 'http',
        label: 'loopback',
        url: server.url,
        transport: 'streamable-http',
        headers: {},
        timeoutMs: 5_000,
      });
      expect(tools.map((t) => t.name)).toContain('echo');
    } finally {
      await pool.close();
    }
  });
});

describe('DNS rebinding: the address checked is the address connected to', () => {
  let server: TestMcpServer;
  beforeAll(async () => {
    server = await startTestMcpServer({});
  });
  afterAll(async () => {
    await server.close();
  });

  /** Answers a public address to the first question and the MCP server's loopback address after. */
  function rebinding(): { resolve: (host: string) => Promise<string[]>; asked: () => number } {
    let asked = 0;
    return {
      resolve: async () => (asked++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']),
      asked: () => asked,
    };
  }

  it('passes the early check on the public answer, then refuses the connection on the loopback one', async () => {
    const dns = rebinding();
    const port = new URL(server.url).port;
    const url = `http://mcp.rebind.test:${port}/mcp`;
    await assertUrlAllowed(url, NOTHING_ALLOWED, { lookup: dns.resolve });
    const pool = new McpClientPool({ guardedLookup: guardedLookup(NOTHING_ALLOWED, dns.resolve), connectTimeoutMs: 3_000 });
    try {
      const listing = pool.listTools({ kind: 'http', label: 'rebind', url, transport: 'streamable-http', headers: {}, timeoutMs: 3_000, guarded: true });
      await expect(listing).rejects.toBeInstanceOf(McpServerError);
      await expect(listing).rejects.toThrow(/address not allowed/);
    } finally {
      await pool.close();
    }
    expect(dns.asked()).toBeGreaterThanOrEqual(2);
    expect(server.requests).toHaveLength(0);
  });

  it('connects through the checked lookup to the address it approved (allow list open for loopback)', async () => {
    const port = new URL(server.url).port;
    const allow = parseAllowList(['127.0.0.0/8']);
    const pool = new McpClientPool({ guardedLookup: guardedLookup(allow, fakeDns({ 'mcp.pinned.test': ['127.0.0.1'] })) });
    try {
      const tools = await pool.listTools({ kind: 'http', label: 'pinned', url: `http://mcp.pinned.test:${port}/mcp`, transport: 'streamable-http', headers: {}, timeoutMs: 5_000, guarded: true });
      expect(tools.map((t) => t.name)).toContain('echo');
    } finally {
      await pool.close();
    }
  });

  it('refuses a guarded target on a pool that has no checked lookup (fails closed)', async () => {
    const before = server.requests.length;
    const pool = new McpClientPool({ connectTimeoutMs: 2_000 });
    try {
      await expect(pool.listTools({ kind: 'http', label: 'x', url: server.url, transport: 'streamable-http', headers: {}, timeoutMs: 2_000, guarded: true })).rejects.toThrow();
    } finally {
      await pool.close();
    }
    expect(server.requests).toHaveLength(before);
  });
});
