import type { Tool } from 'openai/resources/responses/responses';
import type { CreateResponseRequest } from '@spool/protocol';
import { completeChat, streamChat, streamResponses, type ResolvedUpstream } from '../upstream.ts';
import { toChatMessages, type ContextItem } from './messages.ts';
import { buildChatParams, type ModelFunction } from './params.ts';
import { ResponsesEventReader } from './responses-events.ts';
import { toResponsesInput } from './responses-input.ts';
import { buildResponsesParams } from './responses-params.ts';
import { completionAsChunk, type TurnTranslator } from './translate.ts';
import { fitContext } from './truncate.ts';

/** One model turn as every upstream protocol gets it: what to send, and where its output goes. */
export interface ModelCall {
  /** The request, with `tool_choice` already freed where the turn must be free to answer. */
  request: CreateResponseRequest;
  upstream: ResolvedUpstream;
  /** The conversation so far (chain, input, output of earlier turns). */
  items: ContextItem[];
  /** The client's function tools and the MCP tools, as functions. */
  functions: ModelFunction[];
  /** Hosted tools of the request that the route passes through (Responses routes only). */
  hostedTools: Tool[];
  forcedFunction: string | null;
  toolsExhausted: boolean;
  dropParams: ReadonlySet<string>;
  /** Opens a compaction item's sealed summary for the response's owner. */
  openCompaction: (encryptedContent: string) => string;
  /** Someone can watch the response before it ends: the upstream is streamed. */
  watched: boolean;
  logprobs: boolean;
  signal: AbortSignal;
  /** Told on each network read of the answer (metrics). */
  onRead: () => void;
}

/**
 * The seam between a model turn and an upstream protocol: an adapter builds the request from the
 * context and the tools, makes the call through the `openai` SDK, and feeds what comes back to the
 * translator, which turns it into Spool's events and the turn's result. Throws what the SDK throws
 * (APIError and the like), which the turn maps by one set of rules (upstream-failure.ts).
 */
export interface UpstreamAdapter {
  call(call: ModelCall, translator: TurnTranslator): Promise<void>;
}

/** Chat Completions (`/chat/completions`): what every OpenAI-compatible server speaks. */
const chatAdapter: UpstreamAdapter = {
  async call(c, translator) {
    const route = c.upstream.route;
    const params = buildChatParams({
      request: c.request,
      model: c.upstream.model,
      maxTokensParam: c.upstream.maxTokensParam,
      messages: toChatMessages(c.request.instructions ?? null, c.items, { reasoningField: route.reasoningFeedback ?? 'none', openCompaction: c.openCompaction }),
      functions: c.functions,
      forcedFunction: c.forcedFunction,
      toolsExhausted: c.toolsExhausted,
      dropParams: c.dropParams,
      sendMetadata: route.sendMetadata ?? false,
    });
    // truncation: "auto" (the API refused it for routes without a context window).
    if (c.request.truncation === 'auto' && route.contextWindow) {
      params.messages = fitContext(params.messages, { contextWindow: route.contextWindow, reserved: c.request.max_output_tokens ?? 0, tools: params.tools });
    }
    if (c.watched) {
      await streamChat(
        c.upstream.client,
        params,
        c.signal,
        (chunks) => {
          c.onRead();
          for (const chunk of chunks) translator.onChunk(chunk);
        },
        c.upstream.idleTimeoutMs,
      );
      return;
    }
    const { stream: _stream, stream_options: _options, ...whole } = params;
    translator.onChunk(completionAsChunk(await completeChat(c.upstream.client, { ...whole, stream: false }, c.signal)));
  },
};

/**
 * The Responses API (`/responses`), called natively and statelessly (`store: false`): the whole
 * context goes as input items, reasoning items with their `encrypted_content` included. Always
 * streamed: the events are what Spool reads, whether or not anyone watches.
 */
const responsesAdapter: UpstreamAdapter = {
  async call(c, translator) {
    const params = buildResponsesParams({
      request: c.request,
      model: c.upstream.model,
      input: toResponsesInput(c.items, { openCompaction: c.openCompaction }),
      functions: c.functions,
      hostedTools: c.hostedTools,
      forcedFunction: c.forcedFunction,
      toolsExhausted: c.toolsExhausted,
      dropParams: c.dropParams,
    });
    const reader = new ResponsesEventReader(translator, { logprobs: c.logprobs });
    await streamResponses(
      c.upstream.client,
      params,
      c.signal,
      (events) => {
        c.onRead();
        for (const e of events) reader.onEvent(e);
      },
      c.upstream.idleTimeoutMs,
    );
    if (!reader.ended) throw new Error('The upstream Responses stream ended before the response did (no response.completed).');
  },
};

export function adapterFor(api: ResolvedUpstream['api']): UpstreamAdapter {
  return api === 'responses' ? responsesAdapter : chatAdapter;
}
