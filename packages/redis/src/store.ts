import type { Redis, Result } from 'ioredis';
import type { Keys } from '@spool/contracts';
import type { EventDraft, LifecycleType, Response, ResponseStatus } from '@spool/protocol';
import { parseLogRange, rangeStartAfter, type LogEntry } from './log-format.ts';
import { APPEND, CREATE, SEAL_IF } from './scripts.ts';

export type { LogEntry };

/** The record of a response, as the API and the workers read it. */
export interface ResponseRecord {
  id: string;
  snapshot: Response;
  status: ResponseStatus;
  owner: string;
  sealed: boolean;
  seq: number;
  /** JSON strings owned by the writer (the API) and the reader (the worker); see contracts. */
  request: string;
  input: string;
  previousResponseId: string | null;
  store: boolean;
  background: boolean;
}

export interface CreateRecord {
  id: string;
  owner: string;
  snapshot: Response;
  request: string;
  input: string;
  previousResponseId: string | null;
  store: boolean;
  background: boolean;
  /** Usually `snapshotEvent`s: `response.created` and `response.queued` / `response.in_progress`. */
  events: Array<EventDraft | SplitEvent>;
  ttlSeconds: number;
}

export interface AppendOptions {
  /** Replace the stored snapshot (a poll reads it); a string is stored as it is (already JSON). */
  snapshot?: Response | string;
  status?: ResponseStatus;
  /** Terminal: no append after this one is accepted. */
  seal?: boolean;
  /** Expiry for the record and log, applied when sealing. */
  ttlSeconds?: number;
}

export const APPEND_SEALED = -2;
export const APPEND_GONE = -3;

/** Splits an event's JSON around the end of its `type` member so Lua can splice the sequence number. */
export function splitEvent(draft: EventDraft): [type: string, head: string, tail: string] {
  let json = JSON.stringify(draft);
  if (!json.startsWith('{"type":"')) {
    // Only reached if a draft was built with another key first; keep `type` first for readers.
    const { type, ...rest } = draft;
    json = `{"type":${JSON.stringify(type)}${JSON.stringify(rest).replace(/^\{/, ',').replace(/^,\}$/, '}')}`;
  }
  const end = json.indexOf('"', 9);
  return [draft.type, json.slice(0, end + 1), json.slice(end + 1)];
}

/** An event already split by `splitEvent` (serialised when emitted), or a `snapshotEvent`. */
export type SplitEvent = [type: string, head: string, tail: string];

/**
 * A lifecycle event whose `response` is the snapshot written in the same call: the script builds
 * its JSON around that snapshot, so the Response is serialised and sent once (see scripts.ts).
 */
export function snapshotEvent(type: LifecycleType): SplitEvent {
  return [type, '', ''];
}

function eventArgs(events: ReadonlyArray<EventDraft | SplitEvent>, snapshot: string): string[] {
  const args: string[] = [String(events.length)];
  for (const e of events) {
    const split = Array.isArray(e) ? e : splitEvent(e as EventDraft);
    if (split[1] === '' && snapshot === '') throw new Error(`${split[0]} refers to the snapshot, but none is written with it`);
    args.push(split[0], split[1], split[2]);
  }
  return args;
}

const FIELDS = ['snapshot', 'status', 'owner', 'sealed', 'seq', 'request', 'input', 'prev', 'store', 'background'] as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolCreate(...args: Array<string | number>): Result<number, Context>;
    spoolAppend(...args: Array<string | number>): Result<number, Context>;
    spoolSealIf(...args: Array<string | number>): Result<number, Context>;
  }
}

/** Registers the Lua scripts on a connection (EVALSHA with automatic fallback to EVAL). */
export function defineScripts(redis: Redis): void {
  if (typeof redis.spoolAppend === 'function') return;
  redis.defineCommand('spoolCreate', { numberOfKeys: 2, lua: CREATE });
  redis.defineCommand('spoolAppend', { numberOfKeys: 2, lua: APPEND });
  redis.defineCommand('spoolSealIf', { numberOfKeys: 2, lua: SEAL_IF });
}

/**
 * All reads and writes of response records and event logs. Writes that change status go through
 * the Lua scripts, so a sealed (terminal) response never changes again.
 */
export class ResponseStore {
  constructor(
    readonly redis: Redis,
    readonly keys: Keys,
  ) {
    defineScripts(redis);
  }

  async create(r: CreateRecord): Promise<boolean> {
    const snapshot = JSON.stringify(r.snapshot);
    const pairs = [
      'status', r.snapshot.status,
      'owner', r.owner,
      'request', r.request,
      'input', r.input,
      'prev', r.previousResponseId ?? '',
      'store', r.store ? '1' : '0',
      'background', r.background ? '1' : '0',
    ];
    const created = await this.redis.spoolCreate(
      this.keys.record(r.id),
      this.keys.events(r.id),
      this.keys.channel(r.id),
      r.ttlSeconds,
      snapshot,
      pairs.length / 2,
      ...pairs,
      ...eventArgs(r.events, snapshot),
    );
    return created === 1;
  }

  /** Returns the first sequence number assigned, or APPEND_SEALED / APPEND_GONE. */
  async append(id: string, events: ReadonlyArray<EventDraft | SplitEvent>, opts: AppendOptions = {}): Promise<number> {
    const snapshot = opts.snapshot === undefined ? '' : typeof opts.snapshot === 'string' ? opts.snapshot : JSON.stringify(opts.snapshot);
    return this.redis.spoolAppend(
      this.keys.record(id),
      this.keys.events(id),
      this.keys.channel(id),
      snapshot,
      opts.status ?? '',
      opts.seal ? '1' : '0',
      opts.ttlSeconds ?? 0,
      ...eventArgs(events, snapshot),
    );
  }

  /** Seals without events if nobody appended since `expectedSeq` was read. See SEAL_IF. */
  async sealIf(id: string, expectedSeq: number, snapshot: Response, status: ResponseStatus, ttlSeconds: number): Promise<number> {
    return this.redis.spoolSealIf(
      this.keys.record(id),
      this.keys.events(id),
      this.keys.channel(id),
      String(expectedSeq),
      JSON.stringify(snapshot),
      status,
      ttlSeconds,
    );
  }

  async get(id: string): Promise<ResponseRecord | null> {
    const values = await this.redis.hmget(this.keys.record(id), ...FIELDS);
    return parseRecord(id, values);
  }

  /**
   * Only the stored request (JSON), or null when the response is gone: the executor reads a call's
   * tool policy from it before every call, without the snapshot and input.
   */
  async getRequest(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.record(id), 'request');
  }

  /**
   * Only the owner and the snapshot, or null when the response is gone: what settling usage on a
   * seal and the console's lists need, without the request and input (which can be megabytes).
   */
  async summary(id: string): Promise<{ owner: string; status: ResponseStatus; background: boolean; snapshot: Response } | null> {
    const [snapshot, owner, status, background] = await this.redis.hmget(this.keys.record(id), 'snapshot', 'owner', 'status', 'background');
    if (!snapshot) return null;
    return { owner: owner ?? '', status: status as ResponseStatus, background: background === '1', snapshot: JSON.parse(snapshot) as Response };
  }

  /** Several records in one round trip (the previous_response_id chain). */
  async getMany(ids: string[]): Promise<Array<ResponseRecord | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.record(id), ...FIELDS);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, values], i) => {
      if (err) throw err;
      return parseRecord(ids[i] as string, values as Array<string | null>);
    });
  }

  /**
   * Events with `sequence_number > afterSeq`, and whether the response is sealed, read atomically:
   * if `sealed` is true, `events` holds everything there will ever be.
   */
  async readEvents(id: string, afterSeq: number): Promise<{ events: LogEntry[]; sealed: boolean; exists: boolean }> {
    const [[e1, range], [e2, state]] = (await this.redis
      .multi()
      .xrange(this.keys.events(id), rangeStartAfter(afterSeq), '+')
      .hmget(this.keys.record(id), 'sealed', 'status')
      .exec()) as [[Error | null, Array<[string, string[]]>], [Error | null, Array<string | null>]];
    if (e1) throw e1;
    if (e2) throw e2;
    return { events: parseLogRange(range, afterSeq), sealed: state[0] === '1', exists: state[1] !== null };
  }

  /** Whether the response is sealed, and its stored snapshot as JSON (null when it is gone). */
  async final(id: string): Promise<{ sealed: boolean; snapshot: string | null }> {
    const [sealed, snapshot] = await this.redis.hmget(this.keys.record(id), 'sealed', 'snapshot');
    return { sealed: sealed === '1', snapshot: snapshot ?? null };
  }

  async delete(id: string): Promise<void> {
    await this.redis.unlink(this.keys.record(id), this.keys.events(id));
  }
}

function parseRecord(id: string, values: Array<string | null>): ResponseRecord | null {
  const [snapshot, status, owner, sealed, seq, request, input, prev, store, background] = values;
  if (snapshot === null || snapshot === undefined) return null;
  return {
    id,
    snapshot: JSON.parse(snapshot) as Response,
    status: status as ResponseStatus,
    owner: owner ?? '',
    sealed: sealed === '1',
    seq: Number(seq ?? 0),
    request: request ?? '{}',
    input: input ?? '[]',
    previousResponseId: prev ? prev : null,
    store: store !== '0',
    background: background === '1',
  };
}
