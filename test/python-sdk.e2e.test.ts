import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, type ScriptedUpstream, startTestMcpServer, type TestMcpServer } from '@spool/testkit';
import { startTestSpool, type TestSpool } from './support/spool.ts';

/**
 * The client from LiteLLM's Responses-API migration guide, in Python with the official `openai`
 * package, against Spool with only its URL changed: `base_url` without `/v1`,
 * `x-litellm-api-key: Bearer …`, a provider-prefixed model, an MCP tool at `litellm_proxy`.
 * The package is installed into a venv under node_modules/.cache on first use (PyPI is needed
 * then); the suite is skipped only where there is no python3 at all.
 */
const run = promisify(execFile);
const python3 = (() => {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return null;
  }
})();
if (!python3) console.warn('python-sdk.e2e: skipped, no python3 on PATH (the Python openai SDK test needs one)');

const VENV = resolve('node_modules/.cache/py-openai');
const KEY = 'sk-1234';

function importsOpenai(python: string): boolean {
  try {
    execFileSync(python, ['-c', 'import openai'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A venv with the `openai` package, made once and reused by later runs (pip's errors are kept). */
function venvPython(): string {
  const python = join(VENV, 'bin', 'python');
  if (existsSync(python) && importsOpenai(python)) return python;
  mkdirSync(VENV, { recursive: true });
  execFileSync('python3', ['-m', 'venv', VENV], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', 'openai'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  return python;
}

const SCRIPT = `
import json, os
from openai import OpenAI

client = OpenAI(
    base_url=os.environ["SPOOL_URL"],
    api_key="anything",
    default_headers={"x-litellm-api-key": "Bearer " + os.environ["LITELLM_KEY"]},
)
response = client.responses.create(
    model="anthropic/claude-3-5-sonnet-latest",
    input='!call litellm_tools__echo {"message": "from python"}',
    tools=[{"type": "mcp", "server_label": "litellm_tools", "server_url": "litellm_proxy", "require_approval": "never"}],
)
print(json.dumps({"status": response.status, "model": response.model, "types": [o.type for o in response.output], "text": response.output_text}))
`;

describe.skipIf(!python3)('the Python openai SDK, as LiteLLM documents it', () => {
  let spool: TestSpool;
  let routed: ScriptedUpstream;
  let mcp: TestMcpServer;
  let python: string;

  beforeAll(async () => {
    python = venvPython();
    [routed, mcp] = await Promise.all([startScriptedUpstream(), startTestMcpServer({})]);
    spool = await startTestSpool({
      name: 'python-sdk',
      env: { SPOOL_API_KEYS: KEY, SPOOL_MCP_ALLOW_HOSTS: '127.0.0.1,localhost' },
      apiKey: KEY,
      file: {
        models: [{ name: 'anthropic/*', base_url: routed.url, upstream_model: '{*}' }],
        mcp_servers: { litellm_tools: { url: mcp.url, transport: 'streamable-http', require_approval: 'never' } },
      },
    });
  }, 360_000);
  afterAll(async () => {
    await spool?.close();
    await Promise.all([routed?.close(), mcp?.close()]);
  });

  it('runs responses.create with base_url without /v1, x-litellm-api-key: Bearer, a provider prefix and a litellm_proxy MCP tool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-py-'));
    const script = join(dir, 'client.py');
    writeFileSync(script, SCRIPT);
    const { stdout } = await run(python, [script], { env: { ...process.env, SPOOL_URL: spool.url, LITELLM_KEY: KEY }, timeout: 60_000 });
    const out = JSON.parse(stdout.trim().split('\n').at(-1) as string) as { status: string; model: string; types: string[]; text: string };
    expect(out).toMatchObject({ status: 'completed', model: 'anthropic/claude-3-5-sonnet-latest', types: ['mcp_list_tools', 'mcp_call', 'message'] });
    expect(out.text).toContain('from python');
    // What reached the model: the name after the provider prefix.
    expect(routed.requests.map((r) => r.model)).toEqual(['claude-3-5-sonnet-latest', 'claude-3-5-sonnet-latest']);
  });
});
