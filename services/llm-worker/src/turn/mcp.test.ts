import { describe, expect, it } from 'vitest';
import { McpServerConfigSchema } from '@spool/runtime';
import type { McpTool, McpToolInfo } from '@spool/protocol';
import { filterTools, listsInContext, mcpFunctions, needsApproval, serverUrlOf } from './mcp.ts';

const echo: McpToolInfo = { name: 'echo', input_schema: { type: 'object' }, description: 'Echo', annotations: { readOnlyHint: true } };
const del: McpToolInfo = { name: 'delete', input_schema: { type: 'object' }, description: null, annotations: { destructiveHint: true } };
const tool = (extra: Partial<McpTool> = {}): McpTool => ({ type: 'mcp', server_label: 'srv', server_url: 'https://x.test/mcp', ...extra });
const server = (extra: Record<string, unknown> = {}) => McpServerConfigSchema.parse({ url: 'https://x.test/mcp', ...extra });

describe('filterTools', () => {
  it('applies the request list form, the filter form and the server lists together', () => {
    expect(filterTools([echo, del], ['echo'], undefined)).toEqual([echo]);
    expect(filterTools([echo, del], { read_only: true }, undefined)).toEqual([echo]);
    expect(filterTools([echo, del], { tool_names: ['delete'] }, undefined)).toEqual([del]);
    expect(filterTools([echo, del], null, server({ disallowed_tools: ['delete'] }))).toEqual([echo]);
    expect(filterTools([echo, del], ['delete'], server({ allowed_tools: ['echo'] }))).toEqual([]);
  });
});

describe('needsApproval', () => {
  it('defaults to approval, as the OpenAI API does', () => {
    expect(needsApproval(tool(), echo, undefined)).toBe(true);
    expect(needsApproval(tool({ require_approval: 'always' }), echo, undefined)).toBe(true);
    expect(needsApproval(tool({ require_approval: 'never' }), echo, undefined)).toBe(false);
  });
  it('reads the object form: always wins, never skips, neither needs approval', () => {
    const policy = tool({ require_approval: { never: { read_only: true }, always: { tool_names: ['echo'] } } });
    expect(needsApproval(policy, echo, undefined)).toBe(true);
    expect(needsApproval(tool({ require_approval: { never: { read_only: true } } }), echo, undefined)).toBe(false);
    expect(needsApproval(tool({ require_approval: { never: { tool_names: ['echo'] } } }), del, undefined)).toBe(true);
  });
  it('lets a configured server only make it stricter', () => {
    expect(needsApproval(tool({ require_approval: 'never' }), echo, server({ require_approval: 'always' }))).toBe(true);
    expect(needsApproval(tool(), echo, server({ require_approval: 'never' }))).toBe(true);
  });
});

describe('lists and functions', () => {
  it('takes the latest successful list per label and names functions uniquely per server', () => {
    const lists = listsInContext([
      { type: 'mcp_list_tools', id: 'a', server_label: 'srv', tools: [del], error: null },
      { type: 'mcp_list_tools', id: 'b', server_label: 'srv', tools: [echo], error: null },
      { type: 'mcp_list_tools', id: 'c', server_label: 'bad', tools: [], error: 'HTTP 401' },
    ]);
    expect([...lists.keys()]).toEqual(['srv']);
    const { functions, refs } = mcpFunctions([tool(), tool({ server_label: 'other' })], new Map([...lists, ['other', [echo]]]), {});
    expect(functions.map((f) => f.name)).toEqual(['srv__echo', 'other__echo']);
    expect(refs.get('other__echo')).toMatchObject({ serverLabel: 'other', toolName: 'echo' });
  });
  it('treats litellm_proxy and a missing url as a configured server', () => {
    expect(serverUrlOf(tool({ server_url: 'litellm_proxy' }))).toBeNull();
    expect(serverUrlOf(tool({ server_url: null }))).toBeNull();
    expect(serverUrlOf(tool())).toBe('https://x.test/mcp');
  });
});
