import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@spool/protocol';

/**
 * What a web page in the user's browser may do here. Spool is an API for programs: by default no
 * origin gets CORS headers, so a page on another origin cannot read an answer, and its preflighted
 * requests (every JSON POST) are never sent. Operators list the origins of their own web apps in
 * `cors.allow_origins` (`*` for any, explicitly).
 */
export interface BrowserPolicy {
  allowOrigins: readonly string[];
  /** No API keys: the server trusts loopback, so a page must not borrow that trust. */
  keyless: boolean;
  /** With keys unset, SPOOL_ALLOW_UNAUTHENTICATED: the operator opened the server to all. */
  allowUnauthenticated: boolean;
}

const ALLOW_HEADERS = 'Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, OpenAI-Beta, Idempotency-Key, X-Stainless-*, x-litellm-api-key, api-key';

/** `http(s)://localhost`, `127.x.x.x` or `[::1]`, any port: a page served from this machine. */
function isLoopbackOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return isLoopbackHostname(url.hostname);
}

function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(h) || h === '[::1]' || h === '::1';
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`). */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * CORS for the listed origins only, and, on a keyless server, no requests from pages that are not
 * on this machine:
 * - an `Origin` that is not loopback (and not listed) is a 403: a page anywhere on the web could
 *   otherwise make the user's browser drive a loopback-only server (spend the upstream key, run
 *   configured tools);
 * - a `Host` that is not a loopback name is a 403 too: that is what a DNS-rebinding page sends
 *   (its own name, now resolving to 127.0.0.1), on requests that carry no `Origin`.
 */
export function browserGuard(policy: BrowserPolicy) {
  const any = policy.allowOrigins.includes('*');
  const listed = new Set(policy.allowOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()));
  const guarded = policy.keyless && !policy.allowUnauthenticated;
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.header('origin');
    const allowed = origin !== undefined && (any || listed.has(origin.toLowerCase()));
    if (guarded) {
      if (origin !== undefined && !allowed && !isLoopbackOrigin(origin)) {
        return next(
          new ApiError(
            403,
            `Requests from web pages on '${origin}' are refused: this server has no API keys and serves only programs on this machine. List the origin under cors.allow_origins, or set API keys.`,
            'permission_error',
            'origin_not_allowed',
          ),
        );
      }
      const host = req.header('host');
      if (host !== undefined && !isLoopbackHostname(hostnameOf(host)) && !allowed) {
        return next(
          new ApiError(403, `Host '${host}' is refused: this server has no API keys and answers only to loopback names (localhost, 127.0.0.1, [::1]).`, 'permission_error', 'host_not_allowed'),
        );
      }
    }
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : (origin as string));
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader('Access-Control-Expose-Headers', 'x-request-id, Retry-After');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') return res.status(204).end();
    next();
  };
}

/** A JSON media type: `application/json` or `application/*+json`, with any parameters. */
export function isJsonMediaType(contentType: string): boolean {
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * A body must say it is JSON. Parsing `text/plain` or a form as JSON is what let a page send a
 * "simple" cross-origin request (no preflight) that Spool then ran. A request without a body (the
 * SDK's cancel) passes.
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction) {
  const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return next();
  const type = req.header('content-type');
  if (type !== undefined && isJsonMediaType(type)) return next();
  next(new ApiError(415, `Unsupported Content-Type '${type ?? '(none)'}': send the body as application/json.`, 'invalid_request_error', 'unsupported_media_type'));
}
