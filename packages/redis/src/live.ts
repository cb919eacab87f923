import type { Redis } from 'ioredis';

export type LiveMessage = { kind: 'events'; entries: Array<{ seq: number; type: string; json: string }>; end: boolean };
export type LiveHandler = (message: LiveMessage) => void;

/** Parses a published message: lines of `seq\ttype\tjson`, and a last `end` line when sealed. */
export function parseLiveMessage(raw: string): LiveMessage {
  const entries: LiveMessage['entries'] = [];
  let end = false;
  for (const line of raw.split('\n')) {
    if (line === 'end') {
      end = true;
      continue;
    }
    const a = line.indexOf('\t');
    const b = line.indexOf('\t', a + 1);
    if (a < 0 || b < 0) continue;
    entries.push({ seq: Number(line.slice(0, a)), type: line.slice(a + 1, b), json: line.slice(b + 1) });
  }
  return { kind: 'events', entries, end };
}

/**
 * One subscriber connection per process, fanned out to any number of local listeners. Thousands of
 * SSE readers cost thousands of in-process handlers, not thousands of Redis connections.
 */
export class LiveHub {
  private readonly handlers = new Map<string, Set<LiveHandler>>();
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      const set = this.handlers.get(channel);
      if (!set || set.size === 0) return;
      const parsed = parseLiveMessage(message);
      for (const handler of set) handler(parsed);
    });
  }

  /** Resolves once Redis has confirmed the subscription; returns the unsubscribe function. */
  async subscribe(channel: string, handler: LiveHandler): Promise<() => void> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    if (set.size === 1 || this.pending.has(channel)) {
      let p = this.pending.get(channel);
      if (!p) {
        p = this.subscriber.subscribe(channel).finally(() => this.pending.delete(channel));
        this.pending.set(channel, p);
      }
      try {
        await p;
      } catch (err) {
        set.delete(handler);
        throw err;
      }
    }
    return () => {
      const current = this.handlers.get(channel);
      if (!current || !current.delete(handler) || current.size > 0) return;
      this.handlers.delete(channel);
      // Best effort: a failed unsubscribe only leaves an idle channel until reconnect.
      this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  get channelCount(): number {
    return this.handlers.size;
  }
}
