import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@spool/protocol';

/** The owner of everything a key creates: a hash, so no key is ever stored or logged. */
export function ownerOf(key: string): string {
  return `key_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

export const ANONYMOUS_OWNER = 'anonymous';

/**
 * The key a client sent: `Authorization: Bearer`, or LiteLLM's / Azure's header names. As in
 * LiteLLM, `x-litellm-api-key` wins over `Authorization` (clients put a provider's key there).
 */
export function presentedKey(req: Request): string | null {
  const raw = req.header('x-litellm-api-key') ?? req.header('authorization') ?? req.header('api-key');
  return raw === undefined ? null : bareKey(raw);
}

/** A key sent bare or as `Bearer <key>` (LiteLLM's guide sends `x-litellm-api-key: Bearer sk-…`). */
export function bareKey(value: string): string {
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  return m ? (m[1] as string).trim() : value.trim();
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

declare module 'express-serve-static-core' {
  interface Request {
    owner?: string;
  }
}

/**
 * With keys configured, a missing or wrong key is a 401. Without keys, Spool serves loopback
 * clients only, unless SPOOL_ALLOW_UNAUTHENTICATED says otherwise.
 */
export function authenticate(apiKeys: string[], allowUnauthenticated: boolean) {
  const hashes = apiKeys.map((k) => createHash('sha256').update(k).digest());
  const owners = apiKeys.map(ownerOf);
  return (req: Request, _res: Response, next: NextFunction) => {
    if (hashes.length === 0) {
      if (!allowUnauthenticated && !isLoopback(req.socket.remoteAddress)) {
        return next(
          new ApiError(
            403,
            'This server has no API keys configured and only serves loopback clients. Set SPOOL_API_KEYS, or SPOOL_ALLOW_UNAUTHENTICATED=true.',
            'permission_error',
            'unauthenticated_remote',
          ),
        );
      }
      req.owner = ANONYMOUS_OWNER;
      return next();
    }
    const key = presentedKey(req);
    if (!key) return next(new ApiError(401, 'Missing API key. Send it as Authorization: Bearer <key>.', 'invalid_request_error', 'invalid_api_key'));
    const digest = createHash('sha256').update(key).digest();
    const match = hashes.findIndex((h) => timingSafeEqual(h, digest));
    if (match === -1) return next(new ApiError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
    req.owner = owners[match] as string;
    next();
  };
}
