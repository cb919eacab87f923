import type { ChatCompletionContentPart, ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { InputContentPart, InputItem, OutputItem } from '@spool/protocol';
import { mcpFunctionName } from './tool-names.ts';

/** What a model turn sees: items from the chain, this response's input, and its output so far. */
export type ContextItem = InputItem | OutputItem;

function partsToChat(parts: InputContentPart[]): ChatCompletionContentPart[] {
  const out: ChatCompletionContentPart[] = [];
  for (const p of parts) {
    switch (p.type) {
      case 'input_text':
      case 'output_text':
        out.push({ type: 'text', text: p.text });
        break;
      case 'refusal':
        out.push({ type: 'text', text: p.refusal });
        break;
      case 'input_image':
        out.push({ type: 'image_url', image_url: { url: p.image_url ?? '', ...(p.detail && p.detail !== 'original' ? { detail: p.detail } : {}) } });
        break;
      case 'input_file':
        out.push({ type: 'file', file: { ...(p.file_data ? { file_data: p.file_data } : {}), ...(p.filename ? { filename: p.filename } : {}) } });
        break;
    }
  }
  return out;
}

/** The text of a message's content (a string, or its text and refusal parts joined). */
export function textOf(content: string | InputContentPart[]): string {
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'input_text' || p.type === 'output_text' ? p.text : p.type === 'refusal' ? p.refusal : '')).join('');
}

function outputAsText(output: string | InputContentPart[]): string {
  return typeof output === 'string' ? output : textOf(output);
}

/** What the model is told a finished MCP call returned: its output, or its error. */
export function mcpCallResult(item: Extract<ContextItem, { type: 'mcp_call' }>): string {
  if (item.status === 'completed') return item.output ?? '';
  // A call parked on an elicitation is `incomplete` with an output saying it waits for the user.
  if (item.status === 'incomplete' && !item.error && item.output) return item.output;
  return `Error: ${typeof item.error === 'string' ? item.error : item.error ? JSON.stringify(item.error) : 'the tool call failed'}`;
}

/** How a compaction item's summary reaches the model, on either upstream protocol. */
export function compactedSummary(summary: string): string {
  return `Summary of the earlier conversation (compacted):\n${summary}`;
}

/** What the model is told of a call the user denied. */
export function deniedResult(reason: string | null | undefined): string {
  return `The user denied this tool call; it was not run.${reason ? ` Reason: ${reason}` : ''}`;
}

/**
 * Builds Chat Completions messages from Responses items. Instructions become the first system
 * message. Consecutive tool calls join one assistant message, and their results follow it as
 * `tool` messages, which is the order Chat Completions requires. `developer` is sent as `system`
 * because many OpenAI-compatible servers do not know the developer role.
 */
export function toChatMessages(
  instructions: string | null,
  items: ContextItem[],
  opts: {
    reasoningField?: 'none' | 'reasoning_content' | 'reasoning';
    /** Opens a compaction item's sealed summary (the worker's SecretBox); absent: compaction items are skipped. */ openCompaction?: (encryptedContent: string) => string;
  } = {},
): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [];
  if (instructions) messages.push({ role: 'system', content: instructions });

  // A reasoning item goes back (where the route says the upstream expects it) on the assistant
  // message that follows it, under the field name that upstream streams it with.
  const field = opts.reasoningField ?? 'none';
  let reasoning = '';
  const pushAssistant = (msg: ChatCompletionMessageParam) => {
    if (field !== 'none' && reasoning !== '') (msg as unknown as Record<string, unknown>)[field] = reasoning;
    reasoning = '';
    messages.push(msg);
  };

  const pendingCalls = (): ChatCompletionMessageToolCall[] => {
    const last = messages[messages.length - 1];
    if (last && last.role === 'assistant' && last.tool_calls !== undefined && reasoning === '') return last.tool_calls as ChatCompletionMessageToolCall[];
    const msg: ChatCompletionMessageParam = { role: 'assistant', content: null, tool_calls: [] };
    pushAssistant(msg);
    return msg.tool_calls as ChatCompletionMessageToolCall[];
  };

  // A denied approval reaches the model as the call it asked for and a result saying it was denied.
  const requests = new Map<string, { server_label: string; name: string; arguments: string }>();
  for (const item of items) if (item.type === 'mcp_approval_request') requests.set(item.id, item);

  // Results of MCP calls wait until the run of calls ends, so parallel calls become one assistant
  // message with several tool calls followed by their results, as the model produced them.
  let deferred: ChatCompletionMessageParam[] = [];
  const flushDeferred = () => {
    messages.push(...deferred);
    deferred = [];
  };

  for (const item of items) {
    if (item.type !== 'mcp_call') flushDeferred();
    switch (item.type) {
      case 'message': {
        if (item.role === 'assistant') {
          pushAssistant({ role: 'assistant', content: textOf(item.content) });
        } else {
          reasoning = '';
          const role = item.role === 'developer' ? 'system' : item.role;
          if (typeof item.content === 'string') messages.push({ role, content: item.content });
          else if (role === 'user') messages.push({ role, content: partsToChat(item.content) });
          else messages.push({ role, content: textOf(item.content) });
        }
        break;
      }
      case 'function_call':
        pendingCalls().push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
        break;
      case 'function_call_output':
        messages.push({ role: 'tool', tool_call_id: item.call_id, content: outputAsText(item.output) });
        break;
      case 'mcp_call': {
        // A finished MCP call is a tool call and its result, as the model saw it when it ran.
        if (item.status === 'in_progress' || item.status === 'calling') break;
        pendingCalls().push({ id: item.id, type: 'function', function: { name: mcpFunctionName(item.server_label, item.name), arguments: item.arguments } });
        deferred.push({ role: 'tool', tool_call_id: item.id, content: mcpCallResult(item) });
        break;
      }
      case 'mcp_approval_response': {
        const req = requests.get(item.approval_request_id);
        if (item.approve || !req) break; // approved calls appear as their mcp_call item
        pendingCalls().push({ id: item.approval_request_id, type: 'function', function: { name: mcpFunctionName(req.server_label, req.name), arguments: req.arguments } });
        messages.push({
          role: 'tool',
          tool_call_id: item.approval_request_id,
          content: deniedResult(item.reason),
        });
        break;
      }
      case 'reasoning':
        reasoning += (item.content ?? []).map((p) => p.text).join('') || item.summary.map((p) => p.text).join('');
        break;
      case 'compaction': {
        // The summary stands for the context it replaced; a user message, since many
        // OpenAI-compatible servers accept a system message only at the start.
        if (!opts.openCompaction) break;
        messages.push({ role: 'user', content: compactedSummary(opts.openCompaction(item.encrypted_content)) });
        break;
      }
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
  return messages;
}
