import type { RedisClient } from './connection.ts';
import { parseEventLines, type LogEntry } from './log-format.ts';

export type LiveMessage =
  | { kind: 'events'; entries: LogEntry[]; end: boolean }
  /**
   * Events `first`..`last` were appended but were too large to publish (see scripts.ts): read them
   * from the log. `end`: that append sealed the response.
   */
  | { kind: 'grew'; first: number; last: number; end: boolean }
  /** The subscriber reconnected: messages may have been lost meanwhile, so read the log again. */
  | { kind: 'resync' };
export type LiveHandler = (message: LiveMessage) => void;

/** A subscription to one channel, open before anyone handles it (see LiveHub.open). */
export interface LiveSubscription {
  /**
   * Resolves once Redis has confirmed the subscription: every message published after that
   * reaches the handler (a reconnect in between is told as a `resync`). Rejects if it fails.
   */
  readonly ready: Promise<void>;
  /** Sets the handler; messages that arrived since `open` are handed to it first, in order. */
  attach(handler: LiveHandler): void;
  close(): void;
}

/**
 * One subscriber connection per process, fanned out to any number of local listeners. Thousands of
 * SSE readers cost thousands of in-process handlers, not thousands of Redis connections.
 * Subscriptions asked for within one tick go to Redis as one SUBSCRIBE (and unsubscriptions as one
 * UNSUBSCRIBE), so a burst of new responses costs one round trip.
 */
export class LiveHub {
  private readonly handlers = new Map<string, Set<LiveHandler>>();
  /** Channels subscribed (or being subscribed) on Redis, with the confirmation. */
  private readonly confirmed = new Map<string, Promise<void>>();
  private toSubscribe: Array<{ channel: string; done: (err?: unknown) => void }> = [];
  private toUnsubscribe: string[] = [];
  private flushScheduled = false;
  private connectedOnce = false;

  private readonly sharded: boolean;

  /**
   * `pubsub` must match how the scripts publish (Keys.pubsub): `sharded` listens with SSUBSCRIBE
   * (ioredis's Cluster routes each channel to the master of its slot), `classic` with SUBSCRIBE.
   */
  constructor(
    private readonly subscriber: RedisClient,
    pubsub: 'sharded' | 'classic' = 'classic',
  ) {
    this.sharded = pubsub === 'sharded';
    subscriber.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      const set = this.handlers.get(channel);
      if (!set || set.size === 0) return;
      const parsed = parseLiveMessage(message);
      for (const handler of set) handler(parsed);
    });
    // Commands wait for 'ready': one sent during the connection handshake puts the connection in
    // subscriber mode before ioredis's ready check, which then fails and reconnects without it.
    subscriber.on('ready', () => {
      const reconnected = this.connectedOnce;
      this.connectedOnce = true;
      if (reconnected) void this.resync();
      this.flush();
    });
    if (subscriber.status === 'ready') this.connectedOnce = true;
    // A cluster's sharded subscribers reconnect on their own (to a promoted replica after a
    // failover) and subscribe again; once they have, messages sent meanwhile may be lost.
    subscriber.on('subscribersReady', () => {
      if (this.handlers.size > 0) for (const set of this.handlers.values()) for (const handler of [...set]) handler({ kind: 'resync' });
    });
  }

  private subscribeAll(channels: string[]): Promise<unknown> {
    if (!this.sharded) return this.subscriber.subscribe(...channels);
    // One SSUBSCRIBE holds channels of one slot only; a response's channel is its own slot.
    return Promise.all(channels.map((c) => this.subscriber.ssubscribe(c)));
  }

  private unsubscribeAll(channels: string[]): Promise<unknown> {
    if (!this.sharded) return this.subscriber.unsubscribe(...channels);
    return Promise.all(channels.map((c) => this.subscriber.sunsubscribe(c)));
  }

  /**
   * Starts subscribing to `channel` at once and returns the subscription; a caller that must not
   * miss what a job it is about to enqueue will publish awaits `ready` before enqueueing.
   */
  open(channel: string): LiveSubscription {
    const buffered: LiveMessage[] = [];
    let target: LiveHandler | null = null;
    let closed = false;
    const handler: LiveHandler = (m) => (target ? target(m) : buffered.push(m));
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    let confirmation = this.confirmed.get(channel);
    if (!confirmation) {
      confirmation = new Promise<void>((resolve, reject) => {
        this.toSubscribe.push({ channel, done: (err) => (err === undefined ? resolve() : reject(err)) });
      });
      this.confirmed.set(channel, confirmation);
      // A failed subscription is forgotten, so that the next reader of the channel tries again.
      confirmation.catch(() => {
        if (this.confirmed.get(channel) === confirmation) this.confirmed.delete(channel);
      });
      this.scheduleFlush();
    }
    const ready = confirmation.catch((err: unknown) => {
      close();
      throw err;
    });
    ready.catch(() => undefined);
    const close = () => {
      if (closed) return;
      closed = true;
      const current = this.handlers.get(channel);
      if (!current || !current.delete(handler) || current.size > 0) return;
      this.handlers.delete(channel);
      this.confirmed.delete(channel);
      this.toUnsubscribe.push(channel);
      this.scheduleFlush();
    };
    return {
      ready,
      attach: (h) => {
        target = h;
        for (const m of buffered.splice(0)) h(m);
      },
      close,
    };
  }

  get channelCount(): number {
    return this.handlers.size;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.subscriber.status !== 'ready') return; // the next 'ready' flushes
    // A channel closed and reopened within the tick needs neither command.
    const reopened = new Set(this.toSubscribe.map((s) => s.channel));
    const leaving = this.toUnsubscribe.filter((c) => !reopened.has(c) && !this.handlers.has(c));
    const joining = this.toSubscribe.filter((s) => this.handlers.has(s.channel));
    for (const s of this.toSubscribe) if (!this.handlers.has(s.channel)) s.done();
    this.toSubscribe = [];
    this.toUnsubscribe = [];
    // Best effort: a failed unsubscribe only leaves an idle channel until the next reconnect.
    if (leaving.length > 0) this.unsubscribeAll(leaving).catch(() => undefined);
    if (joining.length > 0) {
      this.subscribeAll(joining.map((s) => s.channel)).then(
        () => joining.forEach((s) => s.done()),
        (err: unknown) => joining.forEach((s) => s.done(err)),
      );
    }
  }

  /**
   * After a reconnect ioredis subscribes again by itself; once Redis confirms it, every listener
   * is told to read the log again, since messages published while away are lost.
   */
  private async resync(): Promise<void> {
    const channels = [...this.handlers.keys()];
    if (channels.length > 0) {
      try {
        await this.subscribeAll(channels);
      } catch {
        return; // disconnected again: the next 'ready' resyncs
      }
    }
    for (const set of this.handlers.values()) for (const handler of [...set]) handler({ kind: 'resync' });
  }
}

/** A published message: lines of events (log-format.ts), or a notice `log\tFIRST\tLAST[\nend]`. */
function parseLiveMessage(message: string): LiveMessage {
  if (message.startsWith('log\t')) {
    const [, first, last] = /^log\t(\d+)\t(\d+)/.exec(message) ?? [];
    return { kind: 'grew', first: Number(first ?? 0), last: Number(last ?? 0), end: message.endsWith('\nend') };
  }
  const { entries, end } = parseEventLines(message);
  return { kind: 'events', entries, end };
}
