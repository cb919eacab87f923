import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { ApiError } from '@spool/protocol';
import { authenticate, ownerOf } from './auth.ts';

/** A request as the middleware reads it: headers and the peer address (no network needed). */
function request(remoteAddress: string, headers: Record<string, string> = {}): Request {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { socket: { remoteAddress }, header: (name: string) => lower[name.toLowerCase()] } as unknown as Request;
}

function run(mw: ReturnType<typeof authenticate>, req: Request): unknown {
  let out: unknown = 'not called';
  mw(req, {} as Response, (err?: unknown) => {
    out = err ?? null;
  });
  return out;
}

describe('authenticate without keys', () => {
  it('serves loopback clients only, unless told otherwise', () => {
    expect(run(authenticate([], false), request('127.0.0.1'))).toBeNull();
    expect(run(authenticate([], false), request('::1'))).toBeNull();
    const refused = run(authenticate([], false), request('203.0.113.9'));
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(403);
    expect(run(authenticate([], true), request('203.0.113.9'))).toBeNull();
  });
});

describe('authenticate with keys', () => {
  it('binds the owner to a hash of the key, from any of the three header names', () => {
    for (const headers of [{ authorization: 'Bearer k1' }, { 'x-litellm-api-key': 'k1' }, { 'api-key': 'k1' }]) {
      const req = request('203.0.113.9', headers);
      expect(run(authenticate(['k1'], false), req)).toBeNull();
      expect(req.owner).toBe(ownerOf('k1'));
      expect(req.owner).not.toContain('k1');
    }
    expect((run(authenticate(['k1'], false), request('127.0.0.1', { authorization: 'Bearer k2' })) as ApiError).status).toBe(401);
  });
});
