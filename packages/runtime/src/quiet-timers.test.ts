import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuietTimers } from './quiet-timers.ts';

describe('QuietTimers', () => {
  afterEach(() => vi.useRealTimers());

  it('calls each watcher once it has been quiet for the interval, and again while it stays quiet', () => {
    vi.useFakeTimers();
    const timers = new QuietTimers(1000);
    const calls: string[] = [];
    const a = timers.watch(() => calls.push('a'));
    vi.advanceTimersByTime(600);
    const b = timers.watch(() => calls.push('b'));
    vi.advanceTimersByTime(500); // a quiet 1.1 s, b 0.5 s
    expect(calls).toEqual(['a']);
    vi.advanceTimersByTime(700); // b quiet 1.2 s (checked every 250 ms)
    expect(calls).toEqual(['a', 'b']);
    a.touch();
    vi.advanceTimersByTime(750); // a touched 0.75 s ago; b 0.75 s since its call
    expect(calls).toEqual(['a', 'b']);
    vi.advanceTimersByTime(500);
    expect(calls).toEqual(['a', 'b', 'b', 'a']);
    a.stop();
    b.stop();
    expect(timers.size).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(calls).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('shares one instance per interval', () => {
    expect(QuietTimers.every(15_000)).toBe(QuietTimers.every(15_000));
    expect(QuietTimers.every(15_000)).not.toBe(QuietTimers.every(200));
  });
});
