import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * A `fetch` for the `openai` client, made over `node:http` with keep-alive agents.
 *
 * Why: undici's fetch is the largest CPU cost of a model turn (bench/findings.md §2). Measured with
 * `npx tsx bench/micro/upstream-client.ts`, the same SDK streaming call costs ≈ 25 % less CPU with
 * this fetch. The SDK keeps doing everything else (retries with backoff and retry-after, timeouts,
 * SSE decoding, error classes); this only moves bytes. It answers with a real `Response`, so the SDK
 * sees what the fetch standard promises.
 *
 * Differences from undici's fetch, on purpose: redirects are not followed (an upstream that
 * redirects a POST is misconfigured, and the 3xx reaches the SDK as an error), and only request
 * bodies the SDK sends for Chat Completions (string or bytes) are handled here; anything else (a
 * form upload) goes to the global fetch.
 */
export function createNodeFetch(): { fetch: typeof fetch; close(): void } {
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, scheduling: 'lifo' }),
    'https:': new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }),
  };

  const nodeFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = init?.body;
    const plainBody = body == null || typeof body === 'string' || body instanceof Uint8Array;
    if (input instanceof Request || !plainBody) return fetch(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const agent = url.protocol === 'https:' ? agents['https:'] : url.protocol === 'http:' ? agents['http:'] : null;
    if (!agent) return fetch(input, init);

    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    if (body != null) headers['content-length'] = String(Buffer.byteLength(body as string | Uint8Array));
    if (!headers['accept-encoding']) headers['accept-encoding'] = 'gzip, deflate, br';

    return new Promise((resolve, reject) => {
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request(url, { method: init?.method ?? 'GET', headers, agent, ...(init?.signal ? { signal: init.signal } : {}) }, (res) => {
        try {
          resolve(toResponse(res, init?.method === 'HEAD'));
        } catch (err) {
          res.destroy();
          reject(err);
        }
      });
      req.once('error', reject);
      req.end(body ?? undefined);
    });
  };

  return {
    fetch: nodeFetch as typeof fetch,
    close: () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

function toResponse(res: IncomingMessage, head: boolean): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  if (head || NULL_BODY_STATUS.has(status)) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  const decoded: Readable =
    encoding === 'gzip' || encoding === 'x-gzip' ? res.pipe(createGunzip()) : encoding === 'deflate' ? res.pipe(createInflate()) : encoding === 'br' ? res.pipe(createBrotliDecompress()) : res;
  if (decoded !== res) {
    // The decoded stream would otherwise end quietly when the socket dies mid-body.
    res.once('error', (err) => decoded.destroy(err));
    res.once('aborted', () => decoded.destroy(new Error('The upstream connection closed mid-body.')));
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  // Status outside 200–599 cannot be a Response; the SDK then reports a connection error.
  const response: Response = new Response(
    lazyWebBody(decoded, () => nodeBodies.delete(response)),
    { status, statusText: res.statusMessage ?? '', headers },
  );
  nodeBodies.set(response, decoded);
  return response;
}

/** The node stream behind each Response this fetch made, until someone reads it one way or the other. */
const nodeBodies = new WeakMap<Response, Readable>();

/**
 * A web stream over the node body that attaches to it only when first read (highWaterMark 0: no
 * read ahead), so that the body can instead be read as a node stream (`takeNodeBody`) without the
 * web-streams layer, which is most of a streamed call's client cost (bench/findings.md).
 */
function lazyWebBody(body: Readable, onFirstRead: () => void): ReadableStream<Uint8Array> {
  let attached = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (attached) {
          body.resume();
          return;
        }
        attached = true;
        onFirstRead();
        // Events rather than the stream's async iterator: the iterator destroys an IncomingMessage
        // it deems unfinished, which closes a keep-alive socket that could have been reused.
        body.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) body.pause();
        });
        body.once('end', () => controller.close());
        body.once('error', (err) => controller.error(err));
      },
      cancel(reason) {
        body.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The body of a Response made by this fetch as the node stream it came from, for a reader that
 * wants bytes without web streams. Null when the Response came from elsewhere, or when its web
 * body was already touched (then read `response.body` instead). Taking it twice returns null.
 */
export function takeNodeBody(response: Response): Readable | null {
  const body = nodeBodies.get(response);
  if (!body || response.bodyUsed) return null;
  nodeBodies.delete(response);
  return body;
}
