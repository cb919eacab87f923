import type { ResponseInputContent, ResponseInputItem } from 'openai/resources/responses/responses';
import type { InputContentPart } from '@spool/protocol';
import { compactedSummary, deniedResult, mcpCallResult, textOf, type ContextItem } from './messages.ts';
import { mcpFunctionName } from './tool-names.ts';

/*
 * The context as Responses input items, for an upstream called natively. Spool owns the state
 * (the upstream is called with `store: false`), so every turn sends the whole context: messages,
 * reasoning items with their `encrypted_content` (what lets a reasoning model continue its chain
 * of thought across tool rounds and `previous_response_id` follow-ups), function calls and their
 * outputs. MCP calls are Spool's: the upstream saw them as function calls, and gets them back so,
 * as the Chat Completions adapter does (messages.ts).
 */

function inputParts(parts: InputContentPart[]): ResponseInputContent[] {
  const out: ResponseInputContent[] = [];
  for (const p of parts) {
    switch (p.type) {
      case 'input_text':
      case 'output_text':
        out.push({ type: 'input_text', text: p.text });
        break;
      case 'refusal':
        out.push({ type: 'input_text', text: p.refusal });
        break;
      case 'input_image':
        out.push({
          type: 'input_image',
          detail: p.detail && p.detail !== 'original' ? p.detail : 'auto',
          ...(p.image_url ? { image_url: p.image_url } : {}),
          ...(p.file_id ? { file_id: p.file_id } : {}),
        });
        break;
      case 'input_file':
        out.push({
          type: 'input_file',
          ...(p.file_data ? { file_data: p.file_data } : {}),
          ...(p.filename ? { filename: p.filename } : {}),
          ...(p.file_id ? { file_id: p.file_id } : {}),
          ...(p.file_url ? { file_url: p.file_url } : {}),
        });
        break;
    }
  }
  return out;
}

/**
 * Builds the `input` of a Responses call from the context. Instructions travel as `instructions`,
 * not here. Outputs of consecutive MCP calls follow the run of calls, as the model made them.
 */
export function toResponsesInput(items: ContextItem[], opts: { openCompaction?: (encryptedContent: string) => string } = {}): ResponseInputItem[] {
  const input: ResponseInputItem[] = [];
  const requests = new Map<string, { server_label: string; name: string; arguments: string }>();
  for (const item of items) if (item.type === 'mcp_approval_request') requests.set(item.id, item);
  let deferred: ResponseInputItem[] = [];
  const flushDeferred = () => {
    input.push(...deferred);
    deferred = [];
  };

  for (const item of items) {
    if (item.type !== 'mcp_call') flushDeferred();
    switch (item.type) {
      case 'message': {
        // Assistant text goes back as the easy form: Spool's message ids mean nothing upstream.
        if (item.role === 'assistant') input.push({ role: 'assistant', content: textOf(item.content) });
        else if (typeof item.content === 'string') input.push({ role: item.role, content: item.content });
        else input.push({ role: item.role, content: inputParts(item.content) });
        break;
      }
      case 'reasoning': {
        const content = item.content ?? [];
        input.push({
          type: 'reasoning',
          id: item.id,
          summary: item.summary,
          ...(content.length > 0 ? { content } : {}),
          ...(item.encrypted_content ? { encrypted_content: item.encrypted_content } : {}),
        });
        break;
      }
      case 'function_call':
        input.push({ type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments });
        break;
      case 'function_call_output':
        input.push({ type: 'function_call_output', call_id: item.call_id, output: typeof item.output === 'string' ? item.output : textOf(item.output) });
        break;
      case 'mcp_call':
        if (item.status === 'in_progress' || item.status === 'calling') break;
        input.push({ type: 'function_call', call_id: item.id, name: mcpFunctionName(item.server_label, item.name), arguments: item.arguments });
        deferred.push({ type: 'function_call_output', call_id: item.id, output: mcpCallResult(item) });
        break;
      case 'mcp_approval_response': {
        // A denied approval reaches the model as the call it asked for and a result saying so.
        const req = requests.get(item.approval_request_id);
        if (item.approve || !req) break;
        input.push({ type: 'function_call', call_id: item.approval_request_id, name: mcpFunctionName(req.server_label, req.name), arguments: req.arguments });
        input.push({ type: 'function_call_output', call_id: item.approval_request_id, output: deniedResult(item.reason) });
        break;
      }
      case 'compaction':
        if (!opts.openCompaction) break;
        input.push({ role: 'user', content: compactedSummary(opts.openCompaction(item.encrypted_content)) });
        break;
      case 'mcp_list_tools':
      case 'mcp_approval_request':
      case 'mcp_elicitation_request':
      case 'mcp_elicitation_response':
      case 'item_reference':
        // Tool lists reach the model as tool definitions; approvals become mcp_call items, and so
        // do answered elicitations (the resumed call's result).
        break;
    }
  }
  flushDeferred();
  return input;
}
