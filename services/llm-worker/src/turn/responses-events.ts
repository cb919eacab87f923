import { APIError } from 'openai';
import type { ResponseStreamEvent, ResponseUsage } from 'openai/resources/responses/responses';
import { HostedItemEventSchema, OutputHostedCallSchema, type TokenLogprob } from '@spool/protocol';
import type { TurnTranslator, UpstreamUsage } from './translate.ts';

/*
 * A native Responses upstream's stream, normalised into Spool's own log. The upstream's ids,
 * sequence numbers and lifecycle events are its own and are not relayed: the translator opens
 * Spool's items (Spool's ids, output indexes continuing across turns, the same ordering rules as
 * the Chat Completions route) and the writer numbers the events. What the upstream said is kept:
 * text, reasoning text, summaries, `encrypted_content`, function calls (MCP ones run on Spool's
 * executors), usage, and how it ended.
 */

/** Client-caused failure codes of a Responses upstream: answered as a 400, as the Chat route answers an upstream 400. */
const CLIENT_CODES = /^(invalid_|image_|unsupported_|empty_image|failed_to_download|context_length|bio_policy|misalignment|data_residency)/;

/**
 * A `response.failed` or `error` event as the SDK's `APIError` for the HTTP status that code
 * means, so that upstreamFailure maps it by the same rules as an HTTP error on either route.
 */
export function streamFailure(error: { code?: string | null; message?: string | null; param?: string | null } | null | undefined): APIError {
  const code = error?.code ?? null;
  const message = error?.message || 'the upstream reported a failure without a message';
  const status = code === 'rate_limit_exceeded' || code === 'insufficient_quota' ? 429 : code !== null && CLIENT_CODES.test(code) ? 400 : 500;
  const type = status === 429 ? 'rate_limit_error' : status === 400 ? 'invalid_request_error' : 'server_error';
  // generate() reads the error from an HTTP error body's `error` member, as an upstream's 4xx/5xx would carry it.
  return APIError.generate(status, { error: { message, type, code, param: error?.param ?? null } }, message, new Headers());
}

function usageOf(u: ResponseUsage | null | undefined): UpstreamUsage | null {
  if (!u) return null;
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.total_tokens,
    prompt_tokens_details: { cached_tokens: u.input_tokens_details?.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.output_tokens_details?.reasoning_tokens ?? 0 },
  };
}

type UpstreamLogprob = { token: string; logprob: number; bytes?: number[] | null; top_logprobs?: Array<{ token?: string; logprob?: number; bytes?: number[] | null }> | null };

/** Logprobs as Spool emits them: `bytes` are always there (some upstreams leave them out). */
function logprobsOf(list: UpstreamLogprob[] | null | undefined): TokenLogprob[] {
  const bytes = (token: string, given?: number[] | null) => given ?? [...Buffer.from(token, 'utf8')];
  return (list ?? []).map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: bytes(t.token, t.bytes),
    top_logprobs: (t.top_logprobs ?? []).map((x) => ({ token: x.token ?? '', logprob: x.logprob ?? 0, bytes: bytes(x.token ?? '', x.bytes) })),
  }));
}

const HOSTED_ITEM_TYPES: readonly string[] = OutputHostedCallSchema.options.map((o) => o.shape.type.value);
const isHosted = (type: string): boolean => HOSTED_ITEM_TYPES.includes(type);
/**
 * What an upstream may leave out of a hosted item it announces before it knows it: a web search's
 * action (a search, until `.done` says), a file search's queries, a code run's code and outputs, an image's result.
 */
const HOSTED_ADDED_DEFAULTS: Partial<Record<string, object>> = {
  web_search_call: { action: { type: 'search' } },
  file_search_call: { queries: [] },
  code_interpreter_call: { code: null, outputs: null },
  image_generation_call: { result: null },
};

/** Feeds one upstream Responses stream into the turn's translator. */
export class ResponsesEventReader {
  private sawCall = false;
  /** The upstream ended the response (completed or incomplete); a stream that stops short of it failed. */
  ended = false;

  constructor(
    private readonly t: TurnTranslator,
    private readonly opts: { logprobs: boolean },
  ) {}

  /** A hosted item is relayed only in a shape Spool's schema holds (what the route's clients get). */
  private hostedAdded(key: number, raw: { type: string }): void {
    const item = OutputHostedCallSchema.safeParse({ ...HOSTED_ADDED_DEFAULTS[raw.type], ...raw });
    if (item.success) this.t.onHostedAdded(key, item.data);
  }

  private hostedDone(key: number, raw: unknown): void {
    const item = OutputHostedCallSchema.safeParse(raw);
    if (item.success) this.t.onHostedDone(key, item.data);
  }

  onEvent(e: ResponseStreamEvent): void {
    switch (e.type) {
      case 'response.output_item.added':
        if (isHosted(e.item.type)) this.hostedAdded(e.output_index, e.item);
        else if (e.item.type === 'reasoning') this.t.openReasoning();
        else if (e.item.type === 'function_call') {
          this.sawCall = true;
          this.t.onToolCall({ index: e.output_index, id: e.item.call_id, type: 'function', function: { name: e.item.name, arguments: e.item.arguments ?? '' } });
        }
        return;
      case 'response.reasoning_text.delta':
        this.t.onReasoning(e.delta);
        return;
      case 'response.reasoning_summary_text.delta':
        this.t.onReasoningSummary(e.summary_index, e.delta);
        return;
      case 'response.reasoning_summary_part.added':
        this.t.onReasoningSummary(e.summary_index, '');
        return;
      case 'response.output_text.delta':
        if (e.delta.length > 0) this.t.onText(e.delta, this.opts.logprobs ? logprobsOf(e.logprobs as UpstreamLogprob[]) : []);
        return;
      case 'response.refusal.delta':
        // Spool's message carries output text only (as on the Chat route): the refusal is read as its text.
        if (e.delta.length > 0) this.t.onText(e.delta, []);
        return;
      case 'response.function_call_arguments.delta':
        this.t.onToolCall({ index: e.output_index, function: { arguments: e.delta } });
        return;
      case 'response.output_item.done':
        if (isHosted(e.item.type)) this.hostedDone(e.output_index, e.item);
        if (e.item.type === 'reasoning') {
          // The item's final state is the upstream's word: summaries it only gave here, and its seal.
          e.item.summary.forEach((s, i) => {
            if (!this.t.hasSummary(i)) this.t.onReasoningSummary(i, s.text);
          });
          if (e.item.encrypted_content) this.t.setReasoningEncrypted(e.item.encrypted_content);
          this.t.endReasoning();
        }
        return;
      case 'response.completed':
        this.ended = true;
        this.t.onEnd(this.sawCall ? 'tool_calls' : 'stop', usageOf(e.response.usage));
        return;
      case 'response.incomplete': {
        this.ended = true;
        const reason = e.response.incomplete_details?.reason;
        this.t.onEnd(reason === 'content_filter' ? 'content_filter' : 'length', usageOf(e.response.usage));
        return;
      }
      case 'response.failed':
        throw streamFailure(e.response.error);
      case 'error':
        throw streamFailure(e);
      default: {
        // A hosted item's own events (status, code deltas), checked against Spool's schema; the rest:
        // lifecycle events, `.done` events (Spool closes its items from what it accumulated) and
        // the events of hosted tools this route does not relay.
        const { sequence_number: _, ...draft } = e as { sequence_number?: number };
        const hosted = HostedItemEventSchema.safeParse(draft);
        if (hosted.success) this.t.onHostedEvent(hosted.data.output_index, hosted.data);
        return;
      }
    }
  }
}
