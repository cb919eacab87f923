import { describe, expect, it } from 'vitest';
import { planChildren, restartDelayMs, supervises } from './supervisor.ts';

const config = (roles: string[], workers: number, workerNice = 10) => ({ roles: new Set(roles) as never, workers, workerNice });

describe('planChildren', () => {
  it('gives the api a process of its own and the worker roles SPOOL_WORKERS processes, each as one plain process', () => {
    const specs = planChildren(config(['api', 'llm', 'mcp'], 2), { REDIS_URL: 'redis://r:1' });
    expect(specs).toEqual([
      { name: 'api', env: { REDIS_URL: 'redis://r:1', SPOOL_WORKERS: '0', SPOOL_ROLES: 'api' }, nice: 0 },
      { name: 'worker-1', env: { REDIS_URL: 'redis://r:1', SPOOL_WORKERS: '0', SPOOL_ROLES: 'llm,mcp' }, nice: 10 },
      { name: 'worker-2', env: { REDIS_URL: 'redis://r:1', SPOOL_WORKERS: '0', SPOOL_ROLES: 'llm,mcp' }, nice: 10 },
    ]);
  });

  it("lowers only the workers' priority, by SPOOL_WORKER_NICE (0 keeps every process equal)", () => {
    expect(planChildren(config(['api', 'llm'], 1, 0), {}).map((s) => s.nice)).toEqual([0, 0]);
    expect(planChildren(config(['api', 'llm'], 1, 5), {}).map((s) => s.nice)).toEqual([0, 5]);
  });

  it('runs only the roles asked for (a worker container scales its own role over the cores)', () => {
    expect(planChildren(config(['llm'], 3), {}).map((s) => s.env.SPOOL_ROLES)).toEqual(['llm', 'llm', 'llm']);
  });
});

describe('supervises', () => {
  it('supervises when there are worker roles and SPOOL_WORKERS > 0; otherwise one process', () => {
    expect(supervises(config(['api', 'llm', 'mcp'], 4))).toBe(true);
    expect(supervises(config(['api', 'llm', 'mcp'], 0))).toBe(false);
    expect(supervises(config(['api'], 4))).toBe(false);
  });
});

describe('restartDelayMs', () => {
  it('backs off from 0.5 s, doubling, up to 30 s', () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([500, 1000, 2000, 4000]);
    expect(restartDelayMs(20)).toBe(30_000);
  });
});
