import { Router, type Request, type Response as HttpResponse } from 'express';
import { parseChatCompletionRequest, type Response } from '@spool/protocol';
import { ChatChunkTranslator } from '../chat/chunks.ts';
import { chatIdOf, failureOf, ranMcpCalls, toChatCompletion, type ChatMeta } from '../chat/completion.ts';
import { rebaseParam, toResponsesRequest } from '../chat/request.ts';
import type { ResponsesService, Watch } from '../responses-service.ts';
import { noRetryOnTimeout, sendUpstreamFailure, stopOnClose } from './close.ts';
import { streamResponse, type StreamOptions } from './stream.ts';

export type ChatCompletionsRouteOptions = StreamOptions;

/**
 * `POST /v1/chat/completions`, OpenAI-compatible, with LiteLLM's MCP tool entries.
 *
 * Every request, with MCP tools or without, runs as a `store: false` response through the same
 * pipeline as `/v1/responses` (record, turn jobs on the LLM workers, MCP jobs on the executors,
 * the event log): the API never calls a model, so a "pass-through" request is a one-turn response
 * read back as Chat Completions, with the same routing, retries and limits. See
 * `../chat/README.md` for the behaviour clients see (approvals included).
 */
export function chatCompletionsRouter(service: ResponsesService, opts: ChatCompletionsRouteOptions): Router {
  const router = Router();

  const streamTo = (res: HttpResponse, responseId: string, meta: ChatMeta, translator: ChatChunkTranslator, subscription: Watch | null) =>
    streamResponse(res, service, opts, {
      responseId,
      after: -1,
      subscription,
      onEvent: (e, sse) => {
        for (const frame of translator.onEvent(e.type, e.json)) sse.data(JSON.stringify(frame));
      },
      onEnd: (outcome, sse) => {
        if (translator.finished) return;
        const why = outcome === 'missing' ? 'The response behind this completion expired or was removed before it finished.' : 'The response was cancelled before it finished.';
        sse.data(JSON.stringify(ChatChunkTranslator.ended(`${why} (${meta.id})`)));
      },
    });

  router.post('/chat/completions', async (req: Request, res) => {
    const chat = parseChatCompletionRequest(req.body);
    const { request, paramFor } = toResponsesRequest(chat);
    let created;
    try {
      created = await service.create(request, req.owner as string, { watch: true });
    } catch (err) {
      throw rebaseParam(err, paramFor);
    }
    if (created.headers) res.set(created.headers);
    const meta: ChatMeta = { id: chatIdOf(created.id), created: created.response.created_at, model: chat.model };
    const reportMcp = (chat.tools ?? []).some((t) => t.type === 'mcp');
    if (chat.stream) {
      const translator = new ChatChunkTranslator(meta, { includeUsage: chat.stream_options?.include_usage === true, reportMcp });
      return streamTo(res, created.id, meta, translator, created.subscription);
    }

    const abort = new AbortController();
    stopOnClose(res, abort);
    const ended = await service.waitForFinal(created.id, abort.signal, created.subscription).catch(noRetryOnTimeout(res));
    if (!ended || res.writableEnded || res.destroyed) return;
    const final = JSON.parse(ended.json) as Response;
    if (final.status === 'completed' || final.status === 'incomplete') return res.json(toChatCompletion(final, meta, reportMcp));
    const upstream = final.status === 'failed' ? await service.upstreamFailureOf(created.id) : null;
    if (upstream) return sendUpstreamFailure(res, upstream, ranMcpCalls(final));
    const failure = failureOf(final);
    // The SDKs retry 429 and 5xx; a repeat would run the MCP calls that already ran a second time.
    if (ranMcpCalls(final)) res.setHeader('x-should-retry', 'false');
    res.status(failure.status).json(failure.body);
  });

  return router;
}
