import { ApiError, type ApiErrorType } from '@spool/protocol';
import type { KeyLimiter, LimitCheck } from '@spool/redis';
import type { ApiKeyEntry, Metrics } from '@spool/runtime';
import { ownerOf } from './auth.ts';

/** An ApiError that carries response headers (rate limit state, `Retry-After`). */
export class ApiErrorWithHeaders extends ApiError {
  constructor(
    status: number,
    message: string,
    type: ApiErrorType,
    code: string,
    readonly headers: Record<string, string>,
  ) {
    super(status, message, type, code, null);
  }
}

/** A per-key limit was hit: 429 `rate_limit_exceeded`, as OpenAI sends it (type `requests` or `tokens`). */
export class RateLimitedError extends ApiErrorWithHeaders {}

/** The turn queue is past `limits.max_queue_depth`: 503 with `Retry-After`, for every key. */
export class QueueFullError extends ApiErrorWithHeaders {}

/** OpenAI's reset format: `20ms`, `1s`, `6m0s`, `1h2m3s`. */
export function formatReset(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** The `x-ratelimit-*` headers of a check, for the limits this key has. */
export function rateLimitHeaders(limits: ApiKeyEntry['limits'], check: LimitCheck): Record<string, string> {
  const h: Record<string, string> = {};
  const rpm = limits.requests_per_minute;
  if (rpm) {
    h['x-ratelimit-limit-requests'] = String(rpm);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, rpm - check.requestsUsed));
    h['x-ratelimit-reset-requests'] = formatReset(check.requestsResetMs);
  }
  const tokens = limits.tokens_per_minute ?? limits.tokens_per_day;
  if (tokens) {
    h['x-ratelimit-limit-tokens'] = String(tokens);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, tokens - check.tokensUsed));
    h['x-ratelimit-reset-tokens'] = formatReset(check.tokensResetMs);
  }
  return h;
}

const REFUSALS: Record<NonNullable<LimitCheck['reason']>, { type: 'requests' | 'tokens'; what: string }> = {
  requests_per_minute: { type: 'requests', what: 'requests per min (RPM)' },
  tokens_per_minute: { type: 'tokens', what: 'tokens per min (TPM)' },
  tokens_per_day: { type: 'tokens', what: 'tokens per day (TPD)' },
  max_in_flight: { type: 'requests', what: 'responses in flight' },
  max_background_in_flight: { type: 'requests', what: 'background responses in flight' },
};

export interface AdmissionDeps {
  limiter: KeyLimiter;
  keys: readonly ApiKeyEntry[];
  /** Waiting turn jobs (the backlog `max_queue_depth` bounds). */
  queueDepth: () => Promise<number>;
  maxQueueDepth: number;
  inFlightTtlMs: number;
  metrics?: Metrics;
  nowMs: () => number;
}

export interface Admitted {
  /** The `x-ratelimit-*` headers to send with the answer. */
  headers: Record<string, string>;
}

/**
 * Decides whether a new response may be created, before anything is written or enqueued: first
 * the global backlog bound, then the key's own limits (one script in Redis, so every API replica
 * sees the same counts). Keys without limits cost no Redis call.
 */
export class Admission {
  private readonly byOwner: Map<string, ApiKeyEntry>;
  /** Requests refused by the backlog bound in this process (the console shows it). */
  rejectedByBacklog = 0;

  constructor(private readonly d: AdmissionDeps) {
    this.byOwner = new Map(d.keys.map((k) => [ownerOf(k.key), k]));
  }

  /** The configured name of the key behind an owner (`anonymous` for a keyless server). */
  keyName(owner: string): string {
    return this.byOwner.get(owner)?.name ?? (owner === 'anonymous' ? 'anonymous' : 'unknown');
  }

  async admit(req: { owner: string; responseId: string; background: boolean }): Promise<Admitted> {
    if (this.d.maxQueueDepth > 0 && (await this.d.queueDepth()) >= this.d.maxQueueDepth) {
      this.d.metrics?.admissionRejected.inc();
      this.rejectedByBacklog += 1;
      throw new QueueFullError(503, 'The server is overloaded: too much work is waiting. Retry shortly.', 'server_error', 'server_overloaded', { 'retry-after': '5' });
    }
    const entry = this.byOwner.get(req.owner);
    const limits = entry?.limits ?? {};
    if (!entry || Object.keys(limits).length === 0) return { headers: {} };
    const check = await this.d.limiter.check(req.owner, limits, { responseId: req.responseId, background: req.background, nowMs: this.d.nowMs(), inFlightTtlMs: this.d.inFlightTtlMs });
    const headers = rateLimitHeaders(limits, check);
    if (check.admitted || !check.reason) return { headers };
    this.d.metrics?.rateLimited.inc({ key_name: entry.name });
    const refusal = REFUSALS[check.reason];
    const limit = limits[check.reason] as number;
    const retrySeconds = Math.max(1, Math.ceil(check.retryAfterMs / 1000));
    throw new RateLimitedError(
      429,
      `Rate limit reached for key '${entry.name}' on ${refusal.what}: Limit ${limit}. Please try again in ${formatReset(check.retryAfterMs)}.`,
      refusal.type,
      'rate_limit_exceeded',
      { ...headers, 'retry-after': String(retrySeconds) },
    );
  }

  /** Gives back what `admit` took for a response that was not created after all. */
  async release(owner: string, responseId: string): Promise<void> {
    if (!this.byOwner.get(owner)?.limits || Object.keys(this.byOwner.get(owner)?.limits ?? {}).length === 0) return;
    await this.d.limiter.release(owner, responseId);
  }
}
