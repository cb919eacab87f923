import { describe, expect, it } from 'vitest';
import { MAX_POLL_MS, MIN_POLL_MS, pollDelay } from './tasks.ts';

describe('pollDelay', () => {
  it("follows the server's suggested interval within bounds, and polls every second when it suggests none", () => {
    expect(pollDelay(250)).toBe(250);
    expect(pollDelay(1)).toBe(MIN_POLL_MS);
    expect(pollDelay(10 * 60_000)).toBe(MAX_POLL_MS);
    expect(pollDelay(undefined)).toBe(1000);
    expect(pollDelay(Number.NaN)).toBe(1000);
  });
});
