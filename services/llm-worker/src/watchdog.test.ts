import { describe, expect, it } from 'vitest';
import { lostWork, lostWorkMessage } from './watchdog.ts';

describe('lostWork', () => {
  it('says the work is alive while any turn job will still run, or waits for its MCP children', () => {
    for (const live of ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']) {
      expect(lostWork(['unknown', live, 'unknown'])).toBeNull();
      // An earlier turn that failed does not matter while a later one runs.
      expect(lostWork(['failed', live])).toBeNull();
    }
  });

  it('names why the work is gone: failed for good, ended without sealing, or not in the queue at all', () => {
    expect(lostWork(['failed', 'unknown'])).toMatch(/failed after all its attempts/);
    expect(lostWork(['completed', 'unknown'])).toMatch(/ended without finishing it/);
    expect(lostWork(['unknown', 'unknown'])).toMatch(/no longer in the queue/);
    expect(lostWorkMessage('x')).toMatch(/^The response was stopped by the server's watchdog: its work was lost \(x\)\./);
  });
});
