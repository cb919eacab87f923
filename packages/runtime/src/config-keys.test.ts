import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('api_keys: named keys with limits', () => {
  it('takes plain strings and objects side by side; plain ones are named by position', () => {
    const yaml = [
      'api_keys:',
      '  - plain-key',
      '  - name: team-a',
      '    key_env: TEAM_A_KEY',
      '    limits: { requests_per_minute: 60, tokens_per_day: 100000, max_in_flight: 4 }',
      'admin_keys: [admin-secret]',
      'metrics_token: scrape-token-1234567',
      'limits: { max_queue_depth: 500 }',
    ].join('\n');
    const c = loadConfig({ SPOOL_CONFIG: 'f.yaml', TEAM_A_KEY: 'team-a-secret' }, () => yaml);
    expect(c.apiKeys).toEqual(['plain-key', 'team-a-secret']);
    expect(c.apiKeyEntries).toEqual([
      { name: 'key-1', key: 'plain-key', limits: {} },
      { name: 'team-a', key: 'team-a-secret', limits: { requests_per_minute: 60, tokens_per_day: 100000, max_in_flight: 4 } },
    ]);
    expect(c.adminKeys).toEqual([{ name: 'admin-1', key: 'admin-secret', limits: {} }]);
    expect(c.metricsToken).toBe('scrape-token-1234567');
    expect(c.limits.max_queue_depth).toBe(500);
  });

  it('reports a missing key_env, an unknown limit and a duplicate name together', () => {
    const yaml = 'api_keys:\n  - { name: a, key_env: NOPE }\n  - { name: b, key: x, limits: { requests_per_hour: 1 } }\n  - { name: c, key: y }\n  - { name: c, key: z }\n';
    try {
      loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => yaml);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).problems.join('\n');
      expect(text).toMatch(/requests_per_hour/);
    }
    try {
      loadConfig({ SPOOL_CONFIG: 'f.yaml' }, () => 'api_keys:\n  - { name: a, key_env: NOPE }\n  - { name: c, key: y }\n  - { name: c, key: z }\n');
      expect.unreachable();
    } catch (err) {
      const text = (err as ConfigError).problems.join('\n');
      expect(text).toMatch(/NOPE is not set/);
      expect(text).toMatch(/'c' is used twice/);
    }
  });

  it('reads METRICS_PORT, SPOOL_METRICS_TOKEN and SPOOL_ADMIN_KEYS from the environment', () => {
    const c = loadConfig({ METRICS_PORT: '9464', SPOOL_METRICS_TOKEN: 'env-token-123456789', SPOOL_ADMIN_KEYS: 'a1,a2' });
    expect(c.metricsPort).toBe(9464);
    expect(c.metricsToken).toBe('env-token-123456789');
    expect(c.adminKeys.map((k) => k.name)).toEqual(['admin-1', 'admin-2']);
  });
});
