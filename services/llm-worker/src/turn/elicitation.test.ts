import { describe, expect, it } from 'vitest';
import { elicitationText } from './elicitation.ts';

describe('the text shown to clients that do not know mcp_elicitation_request', () => {
  it('says who asks what, which fields, and how to answer', () => {
    const text = elicitationText(
      {
        type: 'mcp_elicitation_request',
        id: 'mcpe_1',
        server_label: 'ops',
        mcp_call_id: 'mcp_1',
        name: 'deploy',
        message: 'Where to?',
        requested_schema: { type: 'object', properties: { env: { type: 'string', enum: ['a', 'b'] }, n: { type: 'integer' } }, required: ['env'] },
      },
      'resp_1',
    );
    expect(text).toContain("The tool 'deploy' on MCP server 'ops' is waiting for an answer: \"Where to?\"");
    expect(text).toContain('It asks for: env (one of "a", "b", required); n (integer).');
    expect(text).toContain('previous_response_id "resp_1"');
    expect(text).toContain('"elicitation_request_id": "mcpe_1"');
  });
});
