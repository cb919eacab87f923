import type { ServerResponse as HttpResponse } from 'node:http';
import { QuietTimers, type QuietHandle } from '@spool/runtime';

/**
 * The one place that writes Server-Sent Events. Headers once; each frame in one write (parsers
 * that reset per network read must never see half a frame; Node's http layer corks the socket for
 * the rest of the tick, so the frames of one tick still leave in one write); LF only; single-line JSON data;
 * keepalives as comment lines, never as JSON events the SDK would reject.
 */
export class SseWriter {
  private closed = false;
  /** The largest frame written so far: the buffer bound makes room for it (see write). */
  private largestFrame = 0;
  /** Keepalive comments once the stream has been quiet for keepaliveMs (one timer for all streams). */
  private keepalive: QuietHandle | null = null;

  constructor(
    private readonly res: HttpResponse,
    private readonly opts: { keepaliveMs: number; maxBufferedBytes: number; onOverflow: () => void; registry?: Set<SseWriter> },
  ) {}

  /**
   * Ends the stream for a shutdown: a last comment and no `[DONE]`, so the client sees an
   * unfinished stream and resumes from its last sequence_number on another replica.
   */
  interrupt(): void {
    this.comment('keepalive: server shutting down, resume with starting_after');
    this.end();
  }

  open(): void {
    this.res.statusCode = 200;
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
    this.keepalive = QuietTimers.every(this.opts.keepaliveMs).watch(() => this.comment('keepalive'));
    this.opts.registry?.add(this);
    // A reader that hangs up leaves the registry (and stops its keepalive) at once: otherwise it
    // would count as open (spool_sse_streams) until a shutdown.
    this.res.once('close', () => this.end());
  }

  /** `json` must be one line: JSON.stringify output is, and the event log stores only that. */
  event(type: string, json: string): void {
    if (/[\r\n]/.test(type)) throw new Error('SSE event names must not contain CR or LF');
    this.write(`event: ${type}\ndata: ${json}\n\n`);
  }

  /**
   * A data-only frame (no `event:` line), as Chat Completions streams are framed. `json` must be
   * one line, like `event()`'s.
   */
  data(json: string): void {
    if (/[\r\n]/.test(json)) throw new Error('SSE data frames must be single-line JSON');
    this.write(`data: ${json}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  /** Ends the stream with the `[DONE]` sentinel Open Responses requires (the SDK stops there). */
  done(): void {
    this.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    this.keepalive?.stop();
    this.opts.registry?.delete(this);
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }

  get isClosed(): boolean {
    return this.closed || this.res.writableEnded || this.res.destroyed;
  }

  private write(frame: string): void {
    if (this.isClosed) return;
    this.res.write(frame);
    this.keepalive?.touch();
    if (frame.length > this.largestFrame) this.largestFrame = frame.length;
    // A reader that does not read would make us buffer without bound: drop it instead. It can
    // resume from its last sequence_number on a new connection. The bound makes room for two of
    // the stream's largest frames on top of the limit: `response.created` and `.in_progress` both
    // carry the whole request, and a 17 MB `instructions` is one frame no reader can take faster.
    if (this.res.writableLength > this.opts.maxBufferedBytes + 2 * this.largestFrame) {
      this.closed = true;
      this.keepalive?.stop();
      this.res.destroy();
      this.opts.onOverflow();
    }
  }
}
