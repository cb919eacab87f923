import type { Response as HttpResponse } from 'express';
import type { LogEntry } from '@spool/redis';
import type { ResponsesService, Watch } from '../responses-service.ts';
import { SseWriter } from '../sse.ts';
import { stopOnClose } from './close.ts';

export interface StreamOptions {
  keepaliveMs: number;
  /** Unsent bytes a stream may hold before its reader is dropped (limits.sse_max_buffered_bytes). */
  maxBufferedBytes: number;
  /** Open streams, so a shutdown can end them (they resume elsewhere). */
  streams?: Set<SseWriter>;
}

/** How a followed log ended: what `followEvents` reports. */
type StreamOutcome = Awaited<ReturnType<ResponsesService['follow']>>;

export interface StreamSpec {
  responseId: string;
  /** Replay after this sequence number (-1: from the start). */
  after: number;
  /** The live subscription `create` opened, if any (no first read of the log is then needed). */
  subscription?: Watch | null;
  /** Writes one log entry as frames: Responses events as they are, Chat chunks translated. */
  onEvent: (entry: LogEntry, sse: SseWriter) => void;
  /** Last frames before `[DONE]` once the log ended (not after an abort). */
  onEnd?: (outcome: StreamOutcome, sse: SseWriter) => void;
}

/**
 * The one way a response's event log becomes an SSE stream, for `/v1/responses` and
 * `/v1/chat/completions` alike: headers once, replay then follow, `[DONE]` at the end, keepalives
 * while quiet, dropped when the reader lets `maxBufferedBytes` pile up, registered for the
 * shutdown. The connection never owns the work: closing it stops this reader, nothing else.
 */
export async function streamResponse(res: HttpResponse, service: ResponsesService, opts: StreamOptions, spec: StreamSpec): Promise<void> {
  const abort = new AbortController();
  const sse = new SseWriter(res, {
    keepaliveMs: opts.keepaliveMs,
    maxBufferedBytes: opts.maxBufferedBytes,
    onOverflow: () => abort.abort(),
    ...(opts.streams ? { registry: opts.streams } : {}),
  });
  stopOnClose(res, abort);
  sse.open();
  try {
    const outcome = await service.follow(spec.responseId, spec.after, (e) => spec.onEvent(e, sse), abort.signal, spec.subscription ?? null);
    if (outcome === 'aborted') return;
    spec.onEnd?.(outcome, sse);
    sse.done();
  } finally {
    // Headers are sent: after an error the best we can do is end the stream (the client resumes
    // from its cursor); after an abort this stops the keepalive and leaves the shutdown registry.
    sse.end();
  }
}
