import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { listeningBanner } from './banner.ts';

/** Runs the banner's curl line in a real shell, with `curl` replaced by one that prints its arguments. */
function argsOf(line: string, env: Record<string, string>): string[] {
  const out = execFileSync('sh', ['-c', `curl() { for a in "$@"; do printf '%s\\n' "$a"; done; }; ${line.trim()}`], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe('listeningBanner', () => {
  const curlLine = (hasKeys: boolean) => listeningBanner('http://127.0.0.1:8080', 'api,llm,mcp', hasKeys).find((l) => l.includes('curl')) as string;

  it('prints a curl example whose key the shell expands', () => {
    const args = argsOf(curlLine(true), { SPOOL_API_KEY: 'sk-from-env' });
    expect(args).toContain('Authorization: Bearer sk-from-env');
    expect(args).toContain('{"model":"demo","input":"Say hello"}');
    expect(args).toContain('http://127.0.0.1:8080/v1/responses');
  });

  it('sends no Authorization header without keys', () => {
    expect(argsOf(curlLine(false), {}).some((a) => a.startsWith('Authorization'))).toBe(false);
  });
});
