import type { Redis, Result } from 'ioredis';
import type { Keys } from '@spool/contracts';
import type { EventDraft, Response, ResponseStatus } from '@spool/protocol';
import { APPEND, CREATE, SEAL_IF } from './scripts.ts';

/** One entry of the event log, as stored and as sent on SSE. */
export interface LogEntry {
  seq: number;
  type: string;
  json: string;
}

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
  events: EventDraft[];
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

/** An event already split by `splitEvent` (serialised when emitted). */
export type SplitEvent = [type: string, head: string, tail: string];

function eventArgs(events: ReadonlyArray<EventDraft | SplitEvent>): string[] {
  const args: string[] = [String(events.length)];
  for (const e of events) args.push(...(Array.isArray(e) ? e : splitEvent(e as EventDraft)));
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
    const fields: Record<string, string> = {
      snapshot: JSON.stringify(r.snapshot),
      status: r.snapshot.status,
      owner: r.owner,
      request: r.request,
      input: r.input,
      prev: r.previousResponseId ?? '',
      store: r.store ? '1' : '0',
      background: r.background ? '1' : '0',
    };
    const pairs = Object.entries(fields).flat();
    const created = await this.redis.spoolCreate(
      this.keys.record(r.id),
      this.keys.events(r.id),
      this.keys.channel(r.id),
      r.ttlSeconds,
      pairs.length / 2,
      ...pairs,
      ...eventArgs(r.events),
    );
    return created === 1;
  }

  /** Returns the first sequence number assigned, or APPEND_SEALED / APPEND_GONE. */
  async append(id: string, events: ReadonlyArray<EventDraft | SplitEvent>, opts: AppendOptions = {}): Promise<number> {
    return this.redis.spoolAppend(
      this.keys.record(id),
      this.keys.events(id),
      this.keys.channel(id),
      opts.snapshot === undefined ? '' : typeof opts.snapshot === 'string' ? opts.snapshot : JSON.stringify(opts.snapshot),
      opts.status ?? '',
      opts.seal ? '1' : '0',
      opts.ttlSeconds ?? 0,
      ...eventArgs(events),
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
      .xrange(this.keys.events(id), `0-${afterSeq + 2}`, '+')
      .hmget(this.keys.record(id), 'sealed', 'status')
      .exec()) as [[Error | null, Array<[string, string[]]>], [Error | null, Array<string | null>]];
    if (e1) throw e1;
    if (e2) throw e2;
    const events = range.map(([entryId, fields]) => ({
      seq: Number(entryId.slice(2)) - 1,
      type: fields[1] as string,
      json: fields[3] as string,
    }));
    return { events, sealed: state[0] === '1', exists: state[1] !== null };
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
