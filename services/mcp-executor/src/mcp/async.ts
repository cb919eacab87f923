/* Promise helpers for MCP requests: signals that die with a request, aborts, timeouts. */

/** Runs `fn` with a signal of its own that follows `outer` until `fn` settles. */
export async function withLinkedSignal<T>(outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  // The SDK adds an abort listener to the request's signal and never removes it. Given the caller's
  // long-lived signal directly, a later abort would send notifications/cancelled for requests that
  // finished long ago, and the listeners would pile up. A per-request signal dies with the request.
  const inner = new AbortController();
  const forward = (): void => inner.abort(outer?.reason);
  if (outer?.aborted) inner.abort(outer.reason);
  else outer?.addEventListener('abort', forward, { once: true });
  try {
    return await fn(inner.signal);
  } finally {
    outer?.removeEventListener('abort', forward);
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the work behind `promise` goes on). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, makeError?: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(makeError?.() ?? new Error(`Timed out after ${ms} ms.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
