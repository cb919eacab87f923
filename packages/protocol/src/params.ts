import { ApiError } from './errors.ts';
import type { CreateResponseRequest } from './request.ts';
import { SUPPORTED_TOOL_TYPES } from './tools.ts';

/*
 * The fate of each Responses parameter that is not simply forwarded: refused here with a 400 that
 * names it, unless the route lists it in `drop_params` (then it is dropped silently, as LiteLLM's
 * option does). The README's parameter table is the whole list.
 */

/** `include` values Spool serves; the others belong to tools it does not have. */
export const SUPPORTED_INCLUDES = ['message.output_text.logprobs', 'reasoning.encrypted_content', 'message.input_image.image_url'] as const;

/** True when `param` or a parent of it (`reasoning` for `reasoning.effort`) is in `drop`. */
export function isDropped(drop: ReadonlySet<string>, param: string): boolean {
  if (drop.has(param)) return true;
  const dot = param.indexOf('.');
  return dot > 0 && drop.has(param.slice(0, dot));
}

/** Known parameters of the OpenAI API that this server does not serve, with why. */
const NOT_SERVED: ReadonlyArray<[keyof CreateResponseRequest, string]> = [
  ['prompt', 'Prompt templates (prompt) are not supported by this server; send input and instructions.'],
  ['moderation', 'moderation is not supported by this server.'],
  ['image', 'The image parameter is not supported by this server.'],
  ['access_programs', 'access_programs is not supported by this server.'],
  ['prompt_cache_options', 'prompt_cache_options is not supported by this server; prompt_cache_key and prompt_cache_retention are forwarded.'],
];

const present = (v: unknown) => v !== undefined && v !== null;

/**
 * Throws a 400 for the first parameter this request sets that would otherwise be accepted and
 * then ignored. `drop` holds the route's `drop_params`; `contextWindow` is the route's, and
 * `truncation: "auto"` needs one on a Chat Completions route. A Responses route (`api`) takes
 * reasoning summaries and `truncation` itself: the upstream honours them.
 */
export function refuseUnservedParams(
  r: CreateResponseRequest,
  drop: ReadonlySet<string>,
  contextWindow: number | null,
  api: 'chat' | 'responses' = 'chat',
  /** The route's `hosted_tools`: hosted tool types passed through to its (Responses) upstream. */
  hostedTools: readonly string[] = [],
): void {
  const refuse = (param: string, message: string, shownAs = param) => {
    if (!isDropped(drop, param)) throw ApiError.badRequest(message, shownAs, 'unsupported_parameter');
  };
  (r.tools ?? []).forEach((tool, i) => {
    if (tool.type === 'function' || tool.type === 'mcp' || (api === 'responses' && hostedTools.includes(tool.type))) return;
    throw ApiError.badRequest(
      `Tool type '${tool.type}' is not supported by this server. Supported tool types: ${SUPPORTED_TOOL_TYPES.join(', ')}${api === 'responses' && hostedTools.length > 0 ? `, ${hostedTools.join(', ')}` : ''}.`,
      `tools[${i}].type`,
      'unsupported_tool_type',
    );
  });
  for (const [param, message] of NOT_SERVED) if (present(r[param])) refuse(param, message);
  (r.include ?? []).forEach((value, i) => {
    if (!(SUPPORTED_INCLUDES as readonly string[]).includes(value)) {
      refuse('include', `include value '${value}' is not supported by this server. Supported: ${SUPPORTED_INCLUDES.join(', ')}.`, `include[${i}]`);
    }
  });
  const summary = r.reasoning?.summary ?? r.reasoning?.generate_summary;
  if (summary && summary !== 'auto' && api === 'chat') {
    refuse(
      r.reasoning?.summary ? 'reasoning.summary' : 'reasoning.generate_summary',
      `reasoning.summary '${summary}' cannot be honoured: Chat Completions upstreams return raw reasoning (given as the reasoning item's content), not summaries. Use 'auto', or list reasoning.summary in the route's drop_params.`,
    );
  }
  if (r.stream_options?.include_obfuscation === true) {
    refuse('stream_options.include_obfuscation', 'stream_options.include_obfuscation: true is not supported: this server adds no obfuscation to stream events.');
  }
  if (r.truncation === 'auto' && contextWindow === null && api === 'chat') {
    refuse('truncation', "truncation: 'auto' needs the model's context window, and none is configured for this model (set context_window on its route).");
  }
}
