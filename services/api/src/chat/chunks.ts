import type { ChatCompletionChunk, ChatFinishReason, ChatMcpFields, ErrorBody, OutputItem, Response } from '@spool/protocol';
import { chatUsageOf, failureOf, finishReasonOf, listedTools, mcpFieldsOf, toolCallOf, type ChatMeta } from './completion.ts';

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/** What one log event becomes on a Chat Completions stream: chunks, or the stream's error object. */
export type ChatFrame = ChatCompletionChunk | ErrorBody;

/**
 * Reads a response's event log as one `chat.completion.chunk` stream. However many turns the
 * response takes, the client sees one stream: one id, one role chunk, the text of every turn in
 * order, its function tool calls (and MCP calls waiting for approval) as tool call deltas, and one
 * final chunk with `finish_reason`. MCP calls Spool runs are not streamed as tool calls (the client
 * must not run them); like LiteLLM, `mcp_list_tools` rides on the first chunk's delta and the whole
 * report (`mcp_list_tools`, `mcp_tool_calls`, `mcp_call_results`) on the final chunk's delta.
 * Pure: events in, frames out.
 */
export class ChatChunkTranslator {
  private started = false;
  private readonly toolIndex = new Map<string, number>();
  private readonly lists: NonNullable<ChatMcpFields['mcp_list_tools']> = [];
  /** True once the terminal event was translated. */
  finished = false;

  constructor(
    private readonly meta: ChatMeta,
    private readonly opts: { includeUsage: boolean; reportMcp: boolean },
  ) {}

  /** Frames for one event of the log (`type` and its JSON, as stored). */
  onEvent(type: string, json: string): ChatFrame[] {
    switch (type) {
      case 'response.output_item.added':
      case 'response.output_item.done': {
        const { item } = JSON.parse(json) as { item: OutputItem };
        if (type === 'response.output_item.done') {
          if (item.type === 'mcp_list_tools') this.lists.push(...listedTools(item));
          return [];
        }
        const call = toolCallOf(item);
        if (!call) return [];
        const index = this.toolIndex.size;
        this.toolIndex.set(item.id, index);
        // An approval request is complete when added; a function call's arguments follow as deltas.
        const args = item.type === 'mcp_approval_request' ? call.function.arguments : '';
        return this.content({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: args } }] });
      }
      case 'response.output_text.delta': {
        const { delta } = JSON.parse(json) as { delta: string };
        return delta === '' ? [] : this.content({ content: delta });
      }
      case 'response.reasoning_text.delta': {
        // Reasoning streams as LiteLLM streams it to Chat Completions clients.
        const { delta } = JSON.parse(json) as { delta: string };
        return delta === '' ? [] : this.content({ reasoning_content: delta });
      }
      case 'response.refusal.delta': {
        const { delta } = JSON.parse(json) as { delta: string };
        return delta === '' ? [] : this.content({ refusal: delta });
      }
      case 'response.function_call_arguments.delta': {
        const { item_id, delta } = JSON.parse(json) as { item_id: string; delta: string };
        const index = this.toolIndex.get(item_id);
        return index === undefined || delta === '' ? [] : this.content({ tool_calls: [{ index, function: { arguments: delta } }] });
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const { response } = JSON.parse(json) as { response: Response };
        this.finished = true;
        if (type === 'response.failed') return [failureOf(response).body];
        return this.finish(response);
      }
      default:
        return [];
    }
  }

  /** The frame for a stream whose response vanished or was cancelled before it ended. */
  static ended(message: string): ErrorBody {
    return { error: { message, type: 'server_error', param: null, code: 'server_error' } };
  }

  private finish(response: Response): ChatFrame[] {
    const fields = this.opts.reportMcp ? mcpFieldsOf(response.output) : {};
    const out = this.content({}, finishReasonOf(response), Object.keys(fields).length > 0 ? { provider_specific_fields: fields } : {});
    const usage = chatUsageOf(response.usage);
    if (this.opts.includeUsage) out.push({ ...this.base(), choices: [], usage: usage ?? null });
    return out;
  }

  /** A content chunk, preceded by the role chunk if it is the first. */
  private content(delta: Delta, finishReason: ChatFinishReason | null = null, extra: Delta = {}): ChatCompletionChunk[] {
    const out: ChatCompletionChunk[] = [];
    if (!this.started) {
      this.started = true;
      const first: Delta = { role: 'assistant', content: '', refusal: null };
      if (this.opts.reportMcp && this.lists.length > 0) first.provider_specific_fields = { mcp_list_tools: [...this.lists] };
      out.push(this.chunk(first, null));
    }
    out.push(this.chunk({ ...delta, ...extra }, finishReason));
    return out;
  }

  private chunk(delta: Delta, finishReason: ChatFinishReason | null): ChatCompletionChunk {
    return { ...this.base(), choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }

  private base(): Omit<ChatCompletionChunk, 'choices'> {
    return {
      id: this.meta.id,
      object: 'chat.completion.chunk',
      created: this.meta.created,
      model: this.meta.model,
      // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
      ...(this.opts.includeUsage ? { usage: null } : {}),
    };
  }
}
