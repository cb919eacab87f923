import { createServer, get, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SseWriter } from './sse.ts';

/** Runs `run` on a real HTTP response whose client reads everything, or connects and never reads. */
async function withReader(reads: boolean, run: (res: ServerResponse) => Promise<void>): Promise<void> {
  let handler: (res: ServerResponse) => void = () => undefined;
  const server = createServer((_req, res) => handler(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const done = new Promise<void>((resolve, reject) => {
    handler = (res) => run(res).then(resolve, reject);
  });
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  if (reads) socket.on('data', () => undefined);
  else socket.pause();
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  try {
    await done;
  } finally {
    socket.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('SseWriter', () => {
  it('frames events (event line, one-line data, blank line, LF only) and sends the frames of one tick in one socket write', async () => {
    let handler: (res: ServerResponse) => void = () => undefined;
    const server = createServer((_req, res) => handler(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socketWrites: number[] = [];
    handler = (res) => {
      const sse = new SseWriter(res, { keepaliveMs: 60_000, maxBufferedBytes: 1 << 20, onOverflow: () => undefined });
      sse.open();
      // Count what reaches the socket from here on (Node's own socket, not a fake of ours).
      const socket = res.socket as unknown as { _writev: (...a: unknown[]) => unknown; _write: (...a: unknown[]) => unknown };
      for (const name of ['_writev', '_write'] as const) {
        const original = socket[name].bind(socket);
        socket[name] = (...args: unknown[]) => {
          socketWrites.push(Date.now());
          return original(...args);
        };
      }
      sse.event('response.created', '{"type":"response.created"}');
      sse.event('response.output_text.delta', '{"type":"response.output_text.delta","delta":"a"}');
      sse.comment('keepalive');
      expect(() => sse.event('bad\nname', '{}')).toThrow();
      setImmediate(() => {
        expect(socketWrites).toHaveLength(1);
        sse.done();
      });
    };
    try {
      const body = await new Promise<string>((resolve, reject) => {
        get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(body).toBe(
        'event: response.created\ndata: {"type":"response.created"}\n\nevent: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"a"}\n\n: keepalive\n\ndata: [DONE]\n\n',
      );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  /** Writes up to 64 MB in 32 KB batches, yielding between them so a reading client can drain. */
  async function pump(res: ServerResponse): Promise<boolean> {
    let overflowed = false;
    const sse = new SseWriter(res, { keepaliveMs: 60_000, maxBufferedBytes: 256 * 1024, onOverflow: () => (overflowed = true) });
    sse.open();
    const frame = JSON.stringify({ type: 'response.output_text.delta', delta: 'x'.repeat(1000) });
    for (let written = 0; !overflowed && written < 64 * 1024 * 1024;) {
      for (let batch = 0; batch < 32 * 1024; batch += frame.length) {
        sse.event('response.output_text.delta', frame);
        written += frame.length;
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    if (!overflowed) sse.done();
    return overflowed;
  }

  it('sends frames each larger than the limit whole, two in one tick (created and in_progress of a huge request), to a reader that reads', async () => {
    await withReader(true, async (res) => {
      let overflowed = false;
      const sse = new SseWriter(res, { keepaliveMs: 60_000, maxBufferedBytes: 256 * 1024, onOverflow: () => (overflowed = true) });
      sse.open();
      const huge = JSON.stringify({ type: 'response.created', response: { instructions: 'x'.repeat(2 * 1024 * 1024) } });
      sse.event('response.created', huge);
      sse.event('response.in_progress', huge);
      sse.event('response.output_text.delta', '{"type":"response.output_text.delta","delta":"a"}');
      expect(overflowed).toBe(false);
      sse.done();
      await new Promise<void>((resolve) => res.once('finish', () => resolve()));
      expect(res.destroyed && !res.writableFinished).toBe(false);
    });
  }, 30_000);

  it('keeps a reader that reads, however much is sent', async () => {
    await withReader(true, async (res) => {
      expect(await pump(res)).toBe(false);
    });
  }, 60_000);

  it('drops a reader that never reads once unsent data passes the limit, instead of buffering without bound', async () => {
    await withReader(false, async (res) => {
      // More than loopback kernel buffers take (here up to ~36 MB): the rest has to pile up in the process.
      expect(await pump(res)).toBe(true);
      expect(res.destroyed).toBe(true);
    });
  }, 60_000);
});
