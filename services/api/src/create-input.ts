import { ApiError, newId, type CreateResponseRequest, type InputItem } from '@spool/protocol';
import type { ResponseRecord } from '@spool/redis';

/*
 * What a create's input must be before anything is written: every item has an id, the bounds
 * hold, a function_call_output answers a call that exists, a compaction item opens for its owner.
 * Pure checks (no Redis): the service calls them in order and they throw 400s.
 */

/** Gives every input item an id (input_items lists them, and the SDK pages by id). */
export function normalizeInput(input: CreateResponseRequest['input']): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') {
    return [{ type: 'message', id: newId('msg'), role: 'user', content: [{ type: 'input_text', text: input }] }];
  }
  return input.map((item) => {
    if (item.type === 'message') {
      const content = typeof item.content === 'string' ? [{ type: 'input_text' as const, text: item.content }] : item.content;
      return { ...item, id: item.id ?? newId('msg'), content };
    }
    if (item.type === 'function_call') return { ...item, id: item.id ?? newId('fc') };
    if (item.type === 'function_call_output') return { ...item, id: item.id ?? newId('fco') };
    if (item.type === 'mcp_approval_response') return { ...item, id: item.id ?? newId('mcpa') };
    if (item.type === 'mcp_elicitation_response') return { ...item, id: item.id ?? newId('mcpea') };
    return item;
  });
}

export interface CreateBounds {
  max_input_items: number;
  max_tools: number;
  max_instructions_chars: number;
  /** Longest model name accepted (route globs are matched against it). */
  max_model_length?: number;
}

/** The model name's length: checked first, before the name is matched against any route glob. */
export function checkModelName(model: string, limits: Pick<CreateBounds, 'max_model_length'>): void {
  const maxModel = limits.max_model_length ?? 256;
  if (model.length > maxModel) {
    throw ApiError.badRequest(`Invalid value for 'model': at most ${maxModel} characters.`, 'model', 'string_above_max_length');
  }
}

/** The sizes of a create: input items, instructions, tools. */
export function checkBounds(request: CreateResponseRequest, input: InputItem[], limits: CreateBounds): void {
  if (input.length > limits.max_input_items) throw ApiError.badRequest(`Too many input items: at most ${limits.max_input_items}.`, 'input', 'too_many_items');
  if (request.instructions && request.instructions.length > limits.max_instructions_chars) {
    throw ApiError.badRequest(`'instructions' is too long: ${request.instructions.length} characters, at most ${limits.max_instructions_chars}.`, 'instructions', 'string_above_max_length');
  }
  if ((request.tools?.length ?? 0) > limits.max_tools) throw ApiError.badRequest(`Too many tools: at most ${limits.max_tools}.`, 'tools', 'too_many_tools');
}

/** A compaction item must open with this server's key, for this owner: else a 400, before any job. */
export function checkCompactions(input: InputItem[], owner: string, open: ((owner: string, encryptedContent: string) => string) | undefined): void {
  input.forEach((item, i) => {
    if (item.type !== 'compaction') return;
    if (!open) throw ApiError.badRequest('Compaction items are not supported by this server.', `input[${i}]`, 'unsupported_input_type');
    try {
      open(owner, item.encrypted_content);
    } catch (err) {
      throw ApiError.badRequest(err instanceof Error ? err.message : 'Invalid compaction item.', `input[${i}].encrypted_content`, 'invalid_encrypted_content');
    }
  });
}

/** Every function_call_output answers a function call of the chain or of this input. */
export function checkCallOutputs(chain: ResponseRecord[], input: InputItem[]): void {
  const ids = new Set<string>();
  for (const r of chain) {
    for (const item of r.snapshot.output) if (item.type === 'function_call') ids.add(item.call_id);
    for (const item of JSON.parse(r.input) as InputItem[]) if (item.type === 'function_call') ids.add(item.call_id);
  }
  for (const item of input) if (item.type === 'function_call') ids.add(item.call_id);
  input.forEach((item, i) => {
    if (item.type === 'function_call_output' && !ids.has(item.call_id)) {
      throw ApiError.badRequest(`No tool call found for function call output with call_id '${item.call_id}'.`, `input[${i}].call_id`, 'invalid_value');
    }
  });
}
