import type { Result } from 'ioredis';
import type { RedisClient } from './connection.ts';
import type { Keys } from '@spool/contracts';
import type { EventDraft, LifecycleType, Response, ResponseStatus } from '@spool/protocol';
import { parseLogRange, rangeStartAfter, type LogEntry } from './log-format.ts';
import { APPEND, CREATE, SEAL_IF, forPubsub } from './scripts.ts';

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
  /**
   * Expiry for the record, the log and the parked approvals, applied by this append (sealing or
   * not): retention counts from the last write, so a long run never loses its record.
   */
  ttlSeconds?: number;
}

/** Well under Redis's default pub/sub output buffer limits (32 MB hard, 8 MB soft for 60 s). */
export const DEFAULT_MAX_PUBLISH_BYTES = 1024 * 1024;

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
export function defineScripts(redis: RedisClient, pubsub: 'sharded' | 'classic' = 'classic'): void {
  if (typeof redis.spoolAppend === 'function') return;
  redis.defineCommand('spoolCreate', { numberOfKeys: 2, lua: forPubsub(CREATE, pubsub) });
  redis.defineCommand('spoolAppend', { numberOfKeys: 3, lua: forPubsub(APPEND, pubsub) });
  redis.defineCommand('spoolSealIf', { numberOfKeys: 2, lua: forPubsub(SEAL_IF, pubsub) });
}

/**
 * All reads and writes of response records and event logs. Writes that change status go through
 * the Lua scripts, so a sealed (terminal) response never changes again.
 */
export class ResponseStore {
  /** Appends larger than this are announced on pub/sub by a notice, never published whole (see scripts.ts). */
  readonly maxPublishBytes: number;
  /** How long after its create the watchdog first looks at a response (see `inflight` in contracts). */
  readonly staleAfterMs: number;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    opts: { maxPublishBytes?: number; staleAfterMs?: number } = {},
  ) {
    defineScripts(redis, keys.pubsub);
    this.maxPublishBytes = opts.maxPublishBytes ?? DEFAULT_MAX_PUBLISH_BYTES;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
  }

  async create(r: CreateRecord): Promise<boolean> {
    const snapshot = JSON.stringify(r.snapshot);
    const pairs = [
      'status',
      r.snapshot.status,
      'owner',
      r.owner,
      'request',
      r.request,
      'input',
      r.input,
      'prev',
      r.previousResponseId ?? '',
      'store',
      r.store ? '1' : '0',
      'background',
      r.background ? '1' : '0',
    ];
    // The in-flight index is a global key, so it is written by its own command rather than inside
    // the script (one slot per script on a cluster). The two go out in the same tick (on one Redis,
    // in one socket write, index first: a record never exists unindexed; an index entry whose record
    // never came is dropped by the watchdog). Not a pipeline: on a cluster a pipeline must stay in
    // one slot, and these two keys are in different ones.
    const [, created] = await Promise.all([
      this.redis.zadd(this.keys.inflight, Date.now() + this.staleAfterMs, r.id),
      this.redis.spoolCreate(
        this.keys.record(r.id),
        this.keys.events(r.id),
        this.keys.channel(r.id),
        r.ttlSeconds,
        snapshot,
        pairs.length / 2,
        ...pairs,
        this.maxPublishBytes,
        ...eventArgs(r.events, snapshot),
      ),
    ]);
    return created === 1;
  }

  /** Returns the first sequence number assigned, or APPEND_SEALED / APPEND_GONE. */
  async append(id: string, events: ReadonlyArray<EventDraft | SplitEvent>, opts: AppendOptions = {}): Promise<number> {
    const snapshot = opts.snapshot === undefined ? '' : typeof opts.snapshot === 'string' ? opts.snapshot : JSON.stringify(opts.snapshot);
    return this.redis.spoolAppend(
      this.keys.record(id),
      this.keys.events(id),
      this.keys.approvals(id),
      this.keys.channel(id),
      snapshot,
      opts.status ?? '',
      opts.seal ? '1' : '0',
      opts.ttlSeconds ?? 0,
      this.maxPublishBytes,
      ...eventArgs(events, snapshot),
    );
  }

  /** Seals without events if nobody appended since `expectedSeq` was read. See SEAL_IF. */
  async sealIf(id: string, expectedSeq: number, snapshot: Response, status: ResponseStatus, ttlSeconds: number): Promise<number> {
    return this.redis.spoolSealIf(this.keys.record(id), this.keys.events(id), this.keys.channel(id), String(expectedSeq), JSON.stringify(snapshot), status, ttlSeconds);
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

  /**
   * Several records at once (the previous_response_id chain). Each record is its own slot, so on
   * a cluster they are read by separate commands (a cluster pipeline must stay on one node);
   * sent in the same tick, they still cost about one round trip per shard.
   */
  async getMany(ids: string[]): Promise<Array<ResponseRecord | null>> {
    if (ids.length === 0) return [];
    const values = await Promise.all(ids.map((id) => this.redis.hmget(this.keys.record(id), ...FIELDS)));
    return values.map((v, i) => parseRecord(ids[i] as string, v));
  }

  /**
   * Events with `sequence_number > afterSeq`, and whether the response is sealed, read atomically:
   * if `sealed` is true, `events` holds everything there will ever be.
   */
  async readEvents(id: string, afterSeq: number): Promise<{ events: LogEntry[]; sealed: boolean; exists: boolean }> {
    const [[e1, range], [e2, state]] = (await this.redis.multi().xrange(this.keys.events(id), rangeStartAfter(afterSeq), '+').hmget(this.keys.record(id), 'sealed', 'status').exec()) as [
      [Error | null, Array<[string, string[]]>],
      [Error | null, Array<string | null>],
    ];
    if (e1) throw e1;
    if (e2) throw e2;
    return { events: parseLogRange(range, afterSeq), sealed: state[0] === '1', exists: state[1] !== null };
  }

  /** Whether the record exists and is sealed, read without its (possibly large) snapshot. */
  async sealState(id: string): Promise<{ exists: boolean; sealed: boolean }> {
    const [sealed, status] = await this.redis.hmget(this.keys.record(id), 'sealed', 'status');
    return { exists: status !== null, sealed: sealed === '1' };
  }

  /**
   * A few fields of the record, read without parsing the snapshot (which may be what broke):
   * enough to seal a response that cannot be rebuilt. Null when the record is gone.
   */
  async brief(id: string): Promise<{ sealed: boolean; store: boolean; background: boolean; model: string | null; createdAt: number | null } | null> {
    const [sealed, store, background, snapshot] = await this.redis.hmget(this.keys.record(id), 'sealed', 'store', 'background', 'snapshot');
    if (snapshot === null || snapshot === undefined) return null;
    // The snapshot starts with its id, object, created_at; its model follows the parameters: a
    // bounded look at the head and a search for the member, no JSON parse of a possibly huge value.
    const createdAt = /"created_at":(\d+)/.exec(snapshot.slice(0, 512))?.[1];
    const model = /,"model":("(?:[^"\\]|\\.)*")/.exec(snapshot)?.[1];
    let modelName: string | null = null;
    try {
      modelName = model ? (JSON.parse(model) as string) : null;
    } catch {
      modelName = null;
    }
    return { sealed: sealed === '1', store: store !== '0', background: background === '1', model: modelName, createdAt: createdAt ? Number(createdAt) : null };
  }

  /** Whether the response is sealed, and its stored snapshot as JSON (null when it is gone). */
  async final(id: string): Promise<{ sealed: boolean; snapshot: string | null }> {
    const [sealed, snapshot] = await this.redis.hmget(this.keys.record(id), 'sealed', 'snapshot');
    return { sealed: sealed === '1', snapshot: snapshot ?? null };
  }

  /**
   * Keeps how an upstream failure reads over HTTP beside the record (field `upstream_failure`),
   * before the worker seals it. The expiry is the one sealing sets, so a record deleted in
   * between leaves nothing that lives on.
   */
  async setUpstreamFailure(id: string, failureJson: string, ttlSeconds: number): Promise<void> {
    await this.redis.multi().hset(this.keys.record(id), 'upstream_failure', failureJson).expire(this.keys.record(id), ttlSeconds).exec();
  }

  /** The JSON `setUpstreamFailure` kept, or null. */
  async upstreamFailure(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.record(id), 'upstream_failure');
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
