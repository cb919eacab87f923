import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Compose's variable interpolation for the forms our files use: `${X}`, `${X:-default}` (default
 * when unset or empty), `${X-default}` (default when unset), and `$$` for a literal `$`.
 */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, fallback: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name as string];
    if (op === ':-') return value === undefined || value === '' ? (fallback ?? '') : value;
    if (op === '-') return value === undefined ? (fallback ?? '') : value;
    return value ?? '';
  });
}

interface ComposeService {
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
}

/**
 * The environment each service's container gets, as `docker compose` computes it from the file
 * and the caller's shell `env`: interpolation, YAML anchors and merge keys (`<<`).
 */
export function composeEnvironments(file: string, env: Record<string, string | undefined>): Record<string, Record<string, string>> {
  const doc = parse(interpolate(readFileSync(file, 'utf8'), env), { merge: true }) as { services: Record<string, ComposeService> };
  const out: Record<string, Record<string, string>> = {};
  for (const [name, service] of Object.entries(doc.services)) {
    if (!service.build) continue; // only Spool's own services
    const environment = service.environment ?? {};
    const pairs = Array.isArray(environment) ? environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const) : Object.entries(environment);
    out[name] = Object.fromEntries(pairs.map(([k, v]) => [k, v === null ? '' : String(v)]));
  }
  return out;
}
