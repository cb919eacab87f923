import { describe, expect, it } from 'vitest';
import { approvalRequired, checkCall, factsOf, toolAllowed, type ServerToolPolicy } from './mcp-policy.ts';

const echo = { name: 'echo', readOnly: true };
const env = { name: 'get-env', readOnly: false };
const server = (p: Partial<ServerToolPolicy> = {}): ServerToolPolicy => ({ disallowed_tools: [], require_approval: 'request', ...p });

describe('the MCP tool policy', () => {
  it('reads facts from a listed tool', () => {
    expect(factsOf({ name: 'echo', annotations: { readOnlyHint: true } })).toEqual(echo);
    expect(factsOf({ name: 'x', annotations: null })).toEqual({ name: 'x', readOnly: false });
  });

  it('lets a tool through only when the request and the server configuration both allow it', () => {
    expect(toolAllowed(env, {}, undefined)).toBe(true);
    expect(toolAllowed(env, {}, server({ disallowed_tools: ['get-env'] }))).toBe(false);
    expect(toolAllowed(env, {}, server({ allowed_tools: ['echo', 'get-sum'] }))).toBe(false);
    expect(toolAllowed(echo, { allowed_tools: ['get-env'] }, server({ allowed_tools: ['echo'] }))).toBe(false);
    expect(toolAllowed(echo, { allowed_tools: { read_only: true } }, undefined)).toBe(true);
    expect(toolAllowed(env, { allowed_tools: { read_only: true } }, undefined)).toBe(false);
    expect(toolAllowed(env, { allowed_tools: { tool_names: ['get-env'] } }, undefined)).toBe(true);
  });

  it('asks for approval unless the request exempts the tool, and the server can only make it stricter', () => {
    expect(approvalRequired(echo, {}, undefined)).toBe(true);
    expect(approvalRequired(echo, { require_approval: 'never' }, undefined)).toBe(false);
    expect(approvalRequired(echo, { require_approval: { never: { read_only: true } } }, undefined)).toBe(false);
    expect(approvalRequired(env, { require_approval: { never: { read_only: true } } }, undefined)).toBe(true);
    expect(approvalRequired(echo, { require_approval: 'never' }, server({ require_approval: 'always' }))).toBe(true);
    expect(approvalRequired(echo, {}, server({ require_approval: 'never' }))).toBe(true);
  });

  it('decides whether one call may run now, and says why not', () => {
    const denied = server({ allowed_tools: ['echo', 'get-sum'], disallowed_tools: ['get-env'] });
    expect(checkCall({ serverLabel: 'everything', tool: env, approved: true }, {}, denied)).toEqual({
      ok: false,
      code: 'mcp_tool_not_allowed',
      message: "Tool 'get-env' of MCP server 'everything' may not run: it is not in the allowed_tools of the server configuration.",
    });
    expect(checkCall({ serverLabel: 'everything', tool: env, approved: true }, {}, server({ disallowed_tools: ['get-env'] }))).toMatchObject({
      ok: false,
      message: expect.stringContaining('disallowed_tools'),
    });
    expect(checkCall({ serverLabel: 's', tool: echo, approved: true }, undefined, undefined)).toMatchObject({ ok: false, code: 'mcp_tool_not_allowed' });
    expect(checkCall({ serverLabel: 's', tool: echo, approved: false }, {}, undefined)).toMatchObject({ ok: false, code: 'mcp_approval_required' });
    expect(checkCall({ serverLabel: 's', tool: echo, approved: true }, {}, undefined)).toEqual({ ok: true });
    expect(checkCall({ serverLabel: 's', tool: echo, approved: false }, { require_approval: 'never' }, undefined)).toEqual({ ok: true });
  });
});
