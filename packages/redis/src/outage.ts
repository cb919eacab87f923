/*
 * The one place that says whether an error means "Redis cannot serve this now". The API answers
 * such errors with a 503 and Retry-After (so the SDKs retry by themselves); a worker rethrows them
 * so BullMQ retries the job instead of sealing the response over an outage.
 */

/**
 * Redis error replies that mean "not now" rather than "this command is wrong", by their first word
 * (ioredis passes the server's reply through as `ReplyError.message`): out of memory under
 * `noeviction`, a replica or a failing-over master, a server still loading its data, a cluster
 * that lost a shard or is moving a slot.
 */
const UNAVAILABLE_REPLIES: Record<string, string> = {
  OOM: 'is full',
  READONLY: 'is read-only',
  LOADING: 'is loading its data',
  MASTERDOWN: 'lost its master',
  CLUSTERDOWN: 'cluster is down',
  TRYAGAIN: 'is moving data',
  NOREPLICAS: 'has too few replicas',
  BUSY: 'is busy running a script',
};

/**
 * Connection-level failures have no reply and no error class of their own in ioredis (plain
 * `Error`s, or Node's socket errors): they are known by their message or errno code.
 */
const CONNECTION_FAILURE = /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|enableOfflineQueue|Redis not ready|Reached the max retries per request/;

export interface RedisOutage {
  /** How it reads after "storage …" ("is full", "is unreachable"). */
  reason: string;
  /** How long a client should wait: a full Redis needs an operator, a failover a moment. */
  retryAfterSeconds: number;
}

/** Why Redis cannot serve this now, or null when the error is something else. */
export function redisOutage(err: unknown): RedisOutage | null {
  if (!(err instanceof Error)) return null;
  if (err.name === 'ReplyError' || err.name === 'Error' || err.name === 'MaxRetriesPerRequestError') {
    const word = /^([A-Z]+)\b/.exec(err.message)?.[1];
    const reason = word ? UNAVAILABLE_REPLIES[word] : undefined;
    if (reason) return { reason, retryAfterSeconds: word === 'OOM' ? 30 : 2 };
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (err.name === 'MaxRetriesPerRequestError' || CONNECTION_FAILURE.test(err.message) || (code !== undefined && CONNECTION_FAILURE.test(code))) {
    return { reason: 'is unreachable', retryAfterSeconds: 2 };
  }
  // A pipeline or MULTI reports the first failed command's error through `previousErrors`.
  const previous = (err as { previousErrors?: unknown[] }).previousErrors;
  if (Array.isArray(previous)) {
    for (const p of previous) {
      const outage = redisOutage(p);
      if (outage) return outage;
    }
  }
  return null;
}

/** Any failure of Redis itself (an outage, or any error reply): a job meeting one is retried, not sealed. */
export function isRedisFailure(err: unknown): boolean {
  return (err instanceof Error && err.name === 'ReplyError') || redisOutage(err) !== null;
}
