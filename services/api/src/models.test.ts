import { describe, expect, it } from 'vitest';
import { ApiError } from '@spool/protocol';
import { ModelCatalog, type ModelObject } from './models.ts';

const model = (id: string): ModelObject => ({ id, object: 'model', created: 1, owned_by: 'up' });

/** A catalog over a fake upstream listing (our own port) and a clock the test moves. */
function catalog(answers: Array<ModelObject[] | Error>) {
  let now = 0;
  let calls = 0;
  const c = new ModelCatalog({
    exactNames: ['house', 'shared'],
    globRouted: (m) => m.startsWith('anthropic/'),
    listUpstream: async () => {
      const a = answers[Math.min(calls++, answers.length - 1)] as ModelObject[] | Error;
      if (a instanceof Error) throw a;
      return a;
    },
    cacheMs: 60_000,
    now: () => now,
    createdAt: 7,
  });
  return { c, calls: () => calls, tick: (ms: number) => void (now += ms) };
}

describe('ModelCatalog', () => {
  it("lists route names first, then the upstream's, once each, reusing the upstream's list for cacheMs", async () => {
    const { c, calls, tick } = catalog([[model('shared'), model('up-1')], [model('up-2')]]);
    expect((await c.list()).map((m) => [m.id, m.owned_by])).toEqual([
      ['house', 'spool'],
      ['shared', 'spool'],
      ['up-1', 'up'],
    ]);
    tick(59_000);
    await c.list();
    expect(calls()).toBe(1);
    tick(2_000);
    expect((await c.list()).map((m) => m.id)).toEqual(['house', 'shared', 'up-2']);
    expect(calls()).toBe(2);
  });

  it('loses only the upstream part when it fails, and asks again sooner', async () => {
    const { c, calls, tick } = catalog([new Error('down'), [model('back')]]);
    expect((await c.list()).map((m) => m.id)).toEqual(['house', 'shared']);
    tick(6_001);
    expect((await c.list()).map((m) => m.id)).toContain('back');
    expect(calls()).toBe(2);
  });

  it('gets one model: listed, served by a glob route, else a 404', async () => {
    const { c } = catalog([[model('up-1')]]);
    expect((await c.get('up-1')).owned_by).toBe('up');
    expect(await c.get('anthropic/claude-x')).toEqual({ id: 'anthropic/claude-x', object: 'model', created: 7, owned_by: 'spool' });
    await expect(c.get('nope')).rejects.toMatchObject({ status: 404, code: 'model_not_found' } satisfies Partial<ApiError>);
  });
});
