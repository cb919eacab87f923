import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import {
  newId,
  type EventDraft,
  type McpApprovalRequestItem,
  type OutputFunctionCall,
  type OutputMcpCall,
  type OutputMessage,
  type OutputReasoning,
  type OutputTextPart,
  type HostedItemEvent,
  type OutputHostedCall,
  type TokenLogprob,
} from '@spool/protocol';
import { estimateTokens } from './truncate.ts';

/** An MCP tool as the model sees it: the function name maps back to a server and a tool. */
export interface McpToolRef {
  serverLabel: string;
  toolName: string;
  /** The call is not run: it becomes an `mcp_approval_request` and the response ends there. */
  needsApproval?: boolean;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | null;

export interface UpstreamUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

export interface TurnResult {
  finishReason: FinishReason;
  functionCalls: OutputFunctionCall[];
  mcpCalls: OutputMcpCall[];
  approvalRequests: McpApprovalRequestItem[];
  usage: UpstreamUsage | null;
}

interface OpenCall {
  outputIndex: number;
  item: OutputFunctionCall | OutputMcpCall;
}

/** A call that needs approval: nothing is streamed for it until the turn ends. */
interface HeldCall {
  ref: McpToolRef;
  arguments: string;
}

/** The reasoning item being streamed: its raw text, summary parts and sealed state so far. */
interface OpenReasoning {
  outputIndex: number;
  item: OutputReasoning;
  text: string;
  /** Its `reasoning_text` part was announced (only once raw text arrived). */
  contentOpen: boolean;
  summary: string[];
  /** The upstream's summary part numbers, to Spool's. */
  summaryIndexes: Map<number, number>;
  encrypted: string | null;
}

type Loose = Record<string, unknown>;
/** The id prefix of each hosted item kind, as OpenAI's. */
const HOSTED_ID_PREFIX: Record<OutputHostedCall['type'], string> = { web_search_call: 'ws', file_search_call: 'fs', code_interpreter_call: 'ci', image_generation_call: 'ig' };

/**
 * The reasoning text a delta (or a whole message) carries, under whichever name the upstream uses:
 * `reasoning_content` (DeepSeek, vLLM, SGLang, LM Studio), `reasoning` (Ollama, OpenRouter, newer
 * vLLM), or OpenRouter's `reasoning_details` entries. One of them only: OpenRouter sends the same
 * text as both `reasoning` and `reasoning_details`.
 */
function reasoningOf(delta: unknown): string {
  const d = (delta ?? {}) as Loose;
  if (typeof d.reasoning_content === 'string') return d.reasoning_content;
  if (typeof d.reasoning === 'string') return d.reasoning;
  if (Array.isArray(d.reasoning_details)) {
    return d.reasoning_details
      .map((r: unknown) => {
        const e = (r ?? {}) as Loose;
        if (e.type === 'reasoning.text' && typeof e.text === 'string') return e.text;
        if (e.type === 'reasoning.summary' && typeof e.summary === 'string') return e.summary;
        return '';
      })
      .join('');
  }
  return '';
}

function logprobsOf(choice: unknown): TokenLogprob[] {
  const content = ((choice ?? {}) as { logprobs?: { content?: unknown } | null }).logprobs?.content;
  if (!Array.isArray(content)) return [];
  return content.map((t: Loose) => ({
    token: String(t.token ?? ''),
    logprob: Number(t.logprob ?? 0),
    bytes: Array.isArray(t.bytes) ? (t.bytes as number[]) : [],
    top_logprobs: Array.isArray(t.top_logprobs)
      ? (t.top_logprobs as Loose[]).map((x) => ({ token: String(x.token ?? ''), logprob: Number(x.logprob ?? 0), bytes: Array.isArray(x.bytes) ? (x.bytes as number[]) : [] }))
      : [],
  }));
}

/**
 * A whole (non-streamed) completion as the one chunk that carries all of it, so both kinds of
 * upstream call go through the same translator. Only the first choice matters (as in `onChunk`);
 * custom tool calls have no Chat Completions chunk form and are not offered by Spool.
 */
export function completionAsChunk(c: ChatCompletion): ChatCompletionChunk {
  return {
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices: c.choices.map((choice) => ({
      index: choice.index,
      finish_reason: choice.finish_reason,
      ...(choice.logprobs ? { logprobs: choice.logprobs } : {}),
      delta: {
        role: 'assistant',
        // Not in the SDK's types: the reasoning fields of OpenAI-compatible servers.
        ...(reasoningOf(choice.message) ? { reasoning_content: reasoningOf(choice.message) } : {}),
        ...(choice.message.content != null ? { content: choice.message.content } : {}),
        ...(choice.message.refusal != null ? { refusal: choice.message.refusal } : {}),
        ...(choice.message.tool_calls
          ? {
              tool_calls: choice.message.tool_calls.flatMap((tc, index) =>
                tc.type === 'function' ? [{ index, id: tc.id, type: 'function' as const, function: { name: tc.function.name, arguments: tc.function.arguments } }] : [],
              ),
            }
          : {}),
      },
    })),
    ...(c.usage ? { usage: c.usage } : {}),
  };
}

/**
 * Turns Chat Completions chunks into Responses events for one model turn. It only emits; the
 * writer applies each event to the snapshot and ships it. Output indexes continue from what the
 * response already has, so a response keeps one numbering across all its turns.
 */
export class TurnTranslator {
  private message: { outputIndex: number; item: OutputMessage; text: string; logprobs: TokenLogprob[] } | null = null;
  private reasoning: OpenReasoning | null = null;
  /** All reasoning text of this turn: the estimate of reasoning tokens when the upstream gives none. */
  private reasoningText = '';
  private readonly calls = new Map<number, OpenCall>();
  /** Hosted tool items open, by the upstream's output index. */
  private readonly hosted = new Map<number, { outputIndex: number; item: OutputHostedCall }>();
  private readonly held = new Map<number, HeldCall>();
  private readonly approvals: McpApprovalRequestItem[] = [];
  private readonly closedCalls: OpenCall[] = [];
  private finishReason: FinishReason = null;
  private usage: UpstreamUsage | null = null;
  /** True once any content reached the client: from then on, an upstream failure cannot be retried. */
  started = false;

  constructor(
    private readonly emit: (e: EventDraft) => void,
    private readonly outputLength: () => number,
    private readonly classify: (functionName: string) => McpToolRef | null,
    /**
     * `logprobs`: the client asked for them, and the upstream's go onto the output text.
     * `approvalId`: names a new approval request (run.ts mints ids that carry a MAC, see
     * contracts/approval-ids).
     */
    private readonly opts: { logprobs?: boolean; approvalId?: (ref: McpToolRef, args: string) => string } = {},
  ) {}

  onChunk(chunk: ChatCompletionChunk): void {
    if (chunk.usage) this.usage = chunk.usage as UpstreamUsage;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue; // n > 1 is not a Responses concept
      const delta = choice.delta ?? {};
      const reasoning = reasoningOf(delta);
      if (reasoning.length > 0) this.onReasoning(reasoning);
      if (typeof delta.content === 'string' && delta.content.length > 0) this.onText(delta.content, this.opts.logprobs ? logprobsOf(choice) : []);
      for (const tc of delta.tool_calls ?? []) this.onToolCall(tc);
      if (choice.finish_reason) this.finishReason = choice.finish_reason as FinishReason;
    }
  }

  /**
   * Opens a reasoning item (before the message it leads to, as OpenAI's reasoning models), with no
   * parts yet: a Responses upstream may give only a summary, or only `encrypted_content`.
   */
  openReasoning(): void {
    this.started = true;
    if (this.reasoning) return;
    // Reasoning after text (rare) is a new step: the message so far is finished first.
    this.closeMessage('completed');
    const outputIndex = this.outputLength();
    const item: OutputReasoning = { type: 'reasoning', id: newId('rs'), summary: [], content: [], status: 'in_progress' };
    this.reasoning = { outputIndex, item, text: '', contentOpen: false, summary: [], summaryIndexes: new Map(), encrypted: null };
    this.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
  }

  /** Raw reasoning text: the item's one `reasoning_text` part. */
  onReasoning(text: string): void {
    this.reasoningText += text;
    this.openReasoning();
    const r = this.reasoning as OpenReasoning;
    if (!r.contentOpen) {
      r.contentOpen = true;
      this.emit({ type: 'response.content_part.added', item_id: r.item.id, output_index: r.outputIndex, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    }
    r.text += text;
    this.emit({ type: 'response.reasoning_text.delta', item_id: r.item.id, output_index: r.outputIndex, content_index: 0, delta: text });
  }

  /** Summary text of the reasoning (Responses upstreams), part by part in the upstream's numbering. */
  onReasoningSummary(summaryIndex: number, text: string): void {
    this.openReasoning();
    const r = this.reasoning as OpenReasoning;
    const base = { item_id: r.item.id, output_index: r.outputIndex };
    // A new upstream part number opens the next part; parts are numbered densely in Spool's item.
    let index = r.summaryIndexes.get(summaryIndex);
    if (index === undefined) {
      index = r.summary.length;
      r.summaryIndexes.set(summaryIndex, index);
      r.summary.push('');
      this.emit({ type: 'response.reasoning_summary_part.added', ...base, summary_index: index, part: { type: 'summary_text', text: '' } });
    }
    r.summary[index] += text;
    if (text.length > 0) this.emit({ type: 'response.reasoning_summary_text.delta', ...base, summary_index: index, delta: text });
  }

  /** Whether the open reasoning item has the upstream's summary part `summaryIndex` already. */
  hasSummary(summaryIndex: number): boolean {
    return this.reasoning?.summaryIndexes.has(summaryIndex) ?? false;
  }

  /** The reasoning item's sealed state (Responses upstreams), kept on the item to feed back later. */
  setReasoningEncrypted(encrypted: string): void {
    this.openReasoning();
    (this.reasoning as OpenReasoning).encrypted = encrypted;
  }

  /** The upstream closed its reasoning item: Spool's closes too (the next item may follow at once). */
  endReasoning(): void {
    this.closeReasoning('completed');
  }

  private closeReasoning(status: 'completed' | 'incomplete'): void {
    const r = this.reasoning;
    if (!r) return;
    this.reasoning = null;
    const part = { type: 'reasoning_text' as const, text: r.text };
    const base = { item_id: r.item.id, output_index: r.outputIndex };
    if (r.contentOpen) {
      this.emit({ type: 'response.reasoning_text.done', ...base, content_index: 0, text: r.text });
      this.emit({ type: 'response.content_part.done', ...base, content_index: 0, part });
    }
    const summary = r.summary.map((text) => ({ type: 'summary_text' as const, text }));
    summary.forEach((p, i) => {
      this.emit({ type: 'response.reasoning_summary_text.done', ...base, summary_index: i, text: p.text });
      this.emit({ type: 'response.reasoning_summary_part.done', ...base, summary_index: i, part: p });
    });
    const item: OutputReasoning = { ...r.item, status, summary, content: r.contentOpen ? [part] : [], ...(r.encrypted !== null ? { encrypted_content: r.encrypted } : {}) };
    this.emit({ type: 'response.output_item.done', output_index: r.outputIndex, item });
  }

  /** Output text (and its logprobs) of the assistant message, opened on the first piece. */
  onText(text: string, logprobs: TokenLogprob[]): void {
    this.started = true;
    this.closeReasoning('completed');
    if (!this.message) {
      const outputIndex = this.outputLength();
      const item: OutputMessage = { type: 'message', id: newId('msg'), role: 'assistant', status: 'in_progress', content: [] };
      this.message = { outputIndex, item, text: '', logprobs: [] };
      this.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
      this.emit({
        type: 'response.content_part.added',
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      });
    }
    this.message.text += text;
    this.message.logprobs.push(...logprobs);
    this.emit({
      type: 'response.output_text.delta',
      item_id: this.message.item.id,
      output_index: this.message.outputIndex,
      content_index: 0,
      delta: text,
      logprobs,
    });
  }

  /** A piece of a tool call, in Chat Completions' delta form (`index` tells the calls apart). */
  onToolCall(tc: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    this.started = true;
    this.closeReasoning('completed');
    const held = this.held.get(tc.index);
    if (held) {
      held.arguments += tc.function?.arguments ?? '';
      return;
    }
    let open = this.calls.get(tc.index);
    if (!open) {
      const heldRef = this.classify(tc.function?.name ?? '');
      if (heldRef?.needsApproval) {
        this.held.set(tc.index, { ref: heldRef, arguments: tc.function?.arguments ?? '' });
        return;
      }
      // Text before tool calls is finished first: items are appended strictly in order.
      this.closeMessage('completed');
      const name = tc.function?.name ?? '';
      const callId = tc.id ?? newId('call');
      const ref = this.classify(name);
      const outputIndex = this.outputLength();
      const item: OutputFunctionCall | OutputMcpCall = ref
        ? {
            type: 'mcp_call',
            id: newId('mcp'),
            server_label: ref.serverLabel,
            name: ref.toolName,
            arguments: '',
            output: null,
            error: null,
            status: 'in_progress',
            approval_request_id: null,
          }
        : { type: 'function_call', id: newId('fc'), call_id: callId, name, arguments: '', status: 'in_progress' };
      open = { outputIndex, item };
      this.calls.set(tc.index, open);
      this.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
    }
    const piece = tc.function?.arguments ?? '';
    if (piece.length === 0) return;
    open.item.arguments += piece;
    this.emit({
      type: open.item.type === 'mcp_call' ? 'response.mcp_call_arguments.delta' : 'response.function_call_arguments.delta',
      item_id: open.item.id,
      output_index: open.outputIndex,
      delta: piece,
    });
  }

  private closeMessage(status: 'completed' | 'incomplete'): void {
    const m = this.message;
    if (!m) return;
    this.message = null;
    const part: OutputTextPart = { type: 'output_text', text: m.text, annotations: [], logprobs: m.logprobs };
    const base = { item_id: m.item.id, output_index: m.outputIndex, content_index: 0 };
    this.emit({ type: 'response.output_text.done', ...base, text: m.text, logprobs: m.logprobs });
    this.emit({ type: 'response.content_part.done', ...base, part });
    this.emit({ type: 'response.output_item.done', output_index: m.outputIndex, item: { ...m.item, status, content: [part] } });
  }

  private closeCalls(status: 'completed' | 'incomplete'): void {
    const ordered = [...this.calls.values()].sort((a, b) => a.outputIndex - b.outputIndex);
    this.calls.clear();
    for (const c of ordered) {
      if (c.item.type === 'function_call') {
        this.emit({ type: 'response.function_call_arguments.done', item_id: c.item.id, output_index: c.outputIndex, arguments: c.item.arguments, name: c.item.name });
        c.item.status = status;
        this.emit({ type: 'response.output_item.done', output_index: c.outputIndex, item: { ...c.item } });
      } else {
        // The MCP call stays open: the executor runs it and closes the item.
        this.emit({ type: 'response.mcp_call_arguments.done', item_id: c.item.id, output_index: c.outputIndex, arguments: c.item.arguments });
      }
      this.closedCalls.push(c);
    }
  }

  /**
   * A hosted tool item the upstream ran (a web or file search), relayed under Spool's id and output
   * index; `key` is the upstream's output index, which its status events and `.done` name it by.
   */
  onHostedAdded(key: number, item: OutputHostedCall): void {
    this.started = true;
    this.closeReasoning('completed');
    this.closeMessage('completed');
    const outputIndex = this.outputLength();
    const relayed: OutputHostedCall = { ...item, id: newId(HOSTED_ID_PREFIX[item.type]) };
    this.hosted.set(key, { outputIndex, item: relayed });
    this.emit({ type: 'response.output_item.added', output_index: outputIndex, item: relayed });
  }

  /**
   * An event of an open hosted item (its status, code deltas), relayed as the upstream gave it under
   * the item's Spool id and output index; one of another kind's names no item Spool opened there.
   */
  onHostedEvent(key: number, event: HostedItemEvent): void {
    const h = this.hosted.get(key);
    if (h && event.type.startsWith(`response.${h.item.type}`)) this.emit({ ...event, item_id: h.item.id, output_index: h.outputIndex });
  }

  onHostedDone(key: number, item: OutputHostedCall): void {
    const h = this.hosted.get(key);
    // An item is done only as the kind it was opened as: one upstream index names one item.
    if (!h || h.item.type !== item.type) return;
    this.hosted.delete(key);
    this.emit({ type: 'response.output_item.done', output_index: h.outputIndex, item: { ...item, id: h.item.id } });
  }

  /** How the upstream ended the turn, and what it counted (a Responses upstream says so in its last event). */
  onEnd(finishReason: FinishReason, usage: UpstreamUsage | null): void {
    this.finishReason = finishReason;
    if (usage) this.usage = usage;
  }

  /** Closes what is open after the upstream finished normally. */
  finish(): TurnResult {
    const truncated = this.finishReason === 'length' || this.finishReason === 'content_filter';
    this.closeHosted();
    this.closeReasoning(truncated ? 'incomplete' : 'completed');
    this.closeMessage(truncated ? 'incomplete' : 'completed');
    this.closeCalls(truncated ? 'incomplete' : 'completed');
    if (!truncated) this.emitApprovalRequests();
    return this.result();
  }

  /** An approval request is complete when added: `output_item.added` then `.done`, nothing else. */
  private emitApprovalRequests(): void {
    for (const [, h] of [...this.held.entries()].sort(([a], [b]) => a - b)) {
      const item: McpApprovalRequestItem = {
        type: 'mcp_approval_request',
        id: this.opts.approvalId ? this.opts.approvalId(h.ref, h.arguments) : newId('mcpr'),
        server_label: h.ref.serverLabel,
        name: h.ref.toolName,
        arguments: h.arguments,
      };
      const outputIndex = this.outputLength();
      this.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
      this.emit({ type: 'response.output_item.done', output_index: outputIndex, item });
      this.approvals.push(item);
    }
    this.held.clear();
  }

  /** A hosted item the upstream never gave `.done` for: what it did is unknown, so it ends incomplete. */
  private closeHosted(): void {
    // An image generation has no `incomplete` status (OpenAI's type): it ends failed.
    for (const [key, h] of this.hosted) this.onHostedDone(key, h.item.type === 'image_generation_call' ? { ...h.item, status: 'failed' } : { ...h.item, status: 'incomplete' });
  }

  /** Closes what is open as incomplete after the upstream failed mid-stream. */
  abandon(): TurnResult {
    this.closeHosted();
    this.closeReasoning('incomplete');
    this.closeMessage('incomplete');
    this.closeCalls('incomplete');
    return this.result();
  }

  private result(): TurnResult {
    const fc: OutputFunctionCall[] = [];
    const mcp: OutputMcpCall[] = [];
    for (const c of this.closedCalls) {
      if (c.item.type === 'function_call') fc.push(c.item);
      else mcp.push(c.item);
    }
    return { finishReason: this.finishReason, functionCalls: fc, mcpCalls: mcp, approvalRequests: this.approvals, usage: this.withReasoningTokens() };
  }

  /**
   * Many servers that stream reasoning (vLLM, Ollama) count it in `completion_tokens` but report no
   * `reasoning_tokens`: then the reasoning text's estimate stands in, never above the output.
   */
  private withReasoningTokens(): UpstreamUsage | null {
    const u = this.usage;
    if (!u || this.reasoningText === '' || (u.completion_tokens_details?.reasoning_tokens ?? 0) > 0) return u;
    const estimate = Math.min(u.completion_tokens, estimateTokens(this.reasoningText));
    return { ...u, completion_tokens_details: { ...(u.completion_tokens_details ?? {}), reasoning_tokens: estimate } };
  }
}
