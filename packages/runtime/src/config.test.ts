import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, matchesModel } from './config.ts';

describe('loadConfig', () => {
  it('uses the documented defaults and the demo model when no upstream is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', redisUrl: null, prefix: 'spool:', defaultUpstream: null, apiKeys: [] });
    expect([...c.roles]).toEqual(['api', 'llm', 'mcp']);
  });

  it('bounds everything that could otherwise wait for ever, with the documented defaults', () => {
    expect(loadConfig({}).limits).toMatchObject({
      upstream_idle_timeout_ms: 120_000,
      sync_timeout_ms: 600_000,
      max_publish_bytes: 1024 * 1024,
      watchdog_interval_ms: 15_000,
      watchdog_stale_after_ms: 60_000,
    });
    // A publish bound past Redis's soft pub/sub limit (8 MB) would defeat its purpose.
    expect(() => loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => 'limits:\n  max_publish_bytes: 16777216\n')).toThrow(ConfigError);
  });

  it('falls back from UPSTREAM_API_KEY to OPENAI_API_KEY and the OpenAI API', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk' }).defaultUpstream).toMatchObject({ baseUrl: 'https://api.openai.com/v1', apiKey: 'sk' });
    expect(loadConfig({ UPSTREAM_BASE_URL: 'http://h:1/v1', UPSTREAM_API_KEY: 'u', OPENAI_API_KEY: 'o' }).defaultUpstream).toMatchObject({ baseUrl: 'http://h:1/v1', apiKey: 'u' });
  });

  it('reads an empty variable as unset, as a compose file passes `X: ${X:-}`', () => {
    const c = loadConfig({ UPSTREAM_BASE_URL: '', UPSTREAM_API_KEY: '', OPENAI_API_KEY: 'sk-o', SPOOL_API_KEYS: '', REDIS_URL: ' ', SPOOL_PREFIX: '' });
    expect(c.defaultUpstream).toMatchObject({ baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-o' });
    expect(c).toMatchObject({ apiKeys: [], redisUrl: null, prefix: 'spool:' });
    expect(loadConfig({ UPSTREAM_BASE_URL: '', UPSTREAM_API_KEY: '', OPENAI_API_KEY: '' })).toMatchObject({ defaultUpstream: null, demoModel: true });
  });

  it('reads Redis Cluster nodes from REDIS_CLUSTER_NODES or redis.cluster, the environment first', () => {
    expect(loadConfig({}).redisCluster).toBeNull();
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-2:7001' }).redisCluster).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2', port: 7001 },
    ]);
    const yaml = 'redis:\n  cluster: ["a:1", "b:2"]\n';
    expect(loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => yaml).redisCluster).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(loadConfig({ SPOOL_CONFIG: 'f.yaml', REDIS_CLUSTER_NODES: 'c:3' }, () => yaml).redisCluster).toEqual([{ host: 'c', port: 3 }]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'no-port' })).toThrow(/REDIS_CLUSTER_NODES/);
  });

  it('reads Redis Sentinels and the master name', () => {
    expect(loadConfig({}).redisSentinel).toBeNull();
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379' }).redisSentinel).toEqual({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'spool' }).redisSentinel?.name).toBe('spool');
  });

  it('runs one worker process per core by default; SPOOL_WORKERS=0 keeps one process', () => {
    expect(loadConfig({}).workers).toBeGreaterThanOrEqual(1);
    expect(loadConfig({ SPOOL_WORKERS: '0' }).workers).toBe(0);
    expect(loadConfig({ SPOOL_WORKERS: '3' }).workers).toBe(3);
    expect(() => loadConfig({ SPOOL_WORKERS: '-1' })).toThrow(/SPOOL_WORKERS/);
  });

  it('reads the YAML file, and the environment overrides it', () => {
    const yaml = 'api_keys: [from-file]\nmodels:\n  - name: "gpt-*"\n    base_url: http://u:1/v1\n    api_key_env: MY_KEY\n';
    const c = loadConfig({ SPOOL_CONFIG: 'spool.yaml', MY_KEY: 'k1' }, () => yaml);
    expect(c.apiKeys).toEqual(['from-file']);
    expect(c.models[0]).toMatchObject({ pattern: 'gpt-*', apiKey: 'k1', baseUrl: 'http://u:1/v1' });
    expect(loadConfig({ SPOOL_CONFIG: 'spool.yaml', MY_KEY: 'k1', SPOOL_API_KEYS: 'a,b' }, () => yaml).apiKeys).toEqual(['a', 'b']);
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ PORT: 'x', SPOOL_ROLES: 'api,cook', SPOOL_CONFIG: 'f.yaml' }, () => 'models:\n  - name: a\n    base_url: not-a-url\n');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/PORT/);
      expect(problems).toMatch(/SPOOL_ROLES/);
      expect(problems).toMatch(/base_url/);
    }
  });
});

describe('matchesModel', () => {
  it('matches exact names and globs', () => {
    expect(matchesModel('gpt-4o', 'gpt-4o')).toBe(true);
    expect(matchesModel('gpt-4o', 'gpt-4o-mini')).toBe(false);
    expect(matchesModel('gpt-*', 'gpt-4o-mini')).toBe(true);
    expect(matchesModel('llama?', 'llama3')).toBe(true);
    expect(matchesModel('a.b*', 'axb')).toBe(false);
  });
});

describe('routeFor and retentionSeconds', async () => {
  const { routeFor, retentionSeconds } = await import('./config.ts');
  it('routes by the first matching pattern, then the default upstream, else none', () => {
    const yaml = 'models:\n  - name: "gpt-*"\n    base_url: http://a:1/v1\n  - name: gpt-4o\n    base_url: http://b:1/v1\n';
    const routed = loadConfig({ SPOOL_CONFIG: 'f', SPOOL_DEMO_MODEL: 'true' }, () => yaml);
    expect(routeFor(routed, 'gpt-4o')?.baseUrl).toBe('http://a:1/v1');
    expect(routeFor(routed, 'llama')).toBeNull();
    expect(routeFor(loadConfig({ UPSTREAM_BASE_URL: 'http://d:1/v1' }), 'llama')?.baseUrl).toBe('http://d:1/v1');
  });
  it('keeps stored responses for the retention, others for the ephemeral one', () => {
    const limits = { retention_seconds: 100, ephemeral_retention_seconds: 10 };
    expect(retentionSeconds(limits, true)).toBe(100);
    expect(retentionSeconds(limits, false)).toBe(10);
  });
});

describe('hardening settings', () => {
  const withWebhook = (secret: string) => () => loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => `webhooks:\n  - url: https://hooks.example.com/x\n    secret: "${secret}"\n`);

  it('refuses a webhook secret whose key decodes to fewer than 24 bytes (an empty whsec_ included)', () => {
    for (const secret of ['whsec_', `whsec_${Buffer.alloc(16, 1).toString('base64')}`, 'whsec_!!!!']) {
      expect(withWebhook(secret)).toThrow(/at least 24 bytes/);
    }
    expect(withWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`)().webhooks).toHaveLength(1);
  });

  it('has no CORS origins by default, and takes them from the file or SPOOL_CORS_ALLOW_ORIGINS', () => {
    expect(loadConfig({}).corsAllowOrigins).toEqual([]);
    expect(loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => 'cors:\n  allow_origins: [https://a.example]\n').corsAllowOrigins).toEqual(['https://a.example']);
    expect(loadConfig({ SPOOL_CORS_ALLOW_ORIGINS: 'https://b.example, https://c.example' }).corsAllowOrigins).toEqual(['https://b.example', 'https://c.example']);
  });

  it('bounds JSON depth, instructions and MCP results by default', () => {
    expect(loadConfig({}).limits).toMatchObject({ max_json_depth: 64, max_instructions_chars: 1024 * 1024, max_mcp_result_bytes: 1024 * 1024 });
    expect(loadConfig({}).redisAllowEviction).toBe(false);
  });
});

describe('mcp_servers oauth', () => {
  const yaml = 'mcp_servers:\n  gh:\n    url: https://mcp.example.com/mcp\n    oauth: { token_url: https://auth.example.com/token, client_id: spool, client_secret_env: GH_SECRET, scope: repo }\n';
  it('reads the client secret from the environment variable it names, never the file', () => {
    const c = loadConfig({ SPOOL_CONFIG: 's.yaml', GH_SECRET: 'cs' }, () => yaml);
    expect(c.mcpServers.gh?.oauth).toEqual({ token_url: 'https://auth.example.com/token', client_id: 'spool', client_secret_env: 'GH_SECRET', scope: 'repo' });
    expect(c.mcpOAuthSecrets).toEqual({ gh: 'cs' });
  });

  it('refuses to start when the secret is not set, or oauth is given to a stdio server', () => {
    expect(() => loadConfig({ SPOOL_CONFIG: 's.yaml' }, () => yaml)).toThrow(/mcp_servers gh\.oauth: environment variable GH_SECRET is not set/);
    const stdio = 'mcp_servers:\n  s:\n    command: x\n    oauth: { token_url: https://a.example/t, client_id: c, client_secret_env: S }\n';
    expect(() => loadConfig({ SPOOL_CONFIG: 's.yaml', S: 'x' }, () => stdio)).toThrow(/oauth applies to url servers only/);
  });
});

describe('upstream protocol', () => {
  it('takes api and hosted_tools per route, UPSTREAM_API for the default upstream, chat by default', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk' }).defaultUpstream).toMatchObject({ api: 'chat' });
    expect(loadConfig({ OPENAI_API_KEY: 'sk', UPSTREAM_API: 'responses' }).defaultUpstream).toMatchObject({ api: 'responses' });
    expect(() => loadConfig({ OPENAI_API_KEY: 'sk', UPSTREAM_API: 'auto' })).toThrow(ConfigError);
    const yaml =
      'models:\n  - name: a\n    base_url: http://a:1/v1\n  - name: b\n    base_url: http://b:1/v1\n    api: responses\n    hosted_tools: [web_search, file_search, code_interpreter, image_generation]\n';
    expect(loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => yaml).models).toMatchObject([
      { pattern: 'a', api: 'chat', hostedTools: [] },
      { pattern: 'b', api: 'responses', hostedTools: ['web_search', 'file_search', 'code_interpreter', 'image_generation'] },
    ]);
    // Hosted tools need a Responses upstream, and only types Spool relays are accepted.
    expect(() => loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => 'models:\n  - name: a\n    base_url: http://a:1/v1\n    hosted_tools: [web_search]\n')).toThrow(/hosted_tools needs api: responses/);
    expect(() => loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => 'models:\n  - name: a\n    base_url: http://a:1/v1\n    api: responses\n    hosted_tools: [computer_use_preview]\n')).toThrow(
      ConfigError,
    );
  });
});
