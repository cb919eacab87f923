/**
 * The script of the scripted upstream: a pure function from a Chat Completions request body
 * to a description of the reply. Keeping it pure (no clock, no randomness, no I/O) lets the
 * directive language be unit-tested without a socket; the HTTP server only adds ids,
 * timestamps, delays, per-key failure counters and the wire format.
 */

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface PlannedToolCall {
  name: string;
  /** The arguments string exactly as it will appear in the reply. */
  arguments: string;
  /** `arguments` cut into the pieces streamed one per chunk (they concatenate to `arguments`). */
  argumentChunks: string[];
}

export interface PlannedFailure {
  status: number;
  /** With `times`/`key`, only the first `times` requests carrying `key` fail (counted by the server). */
  times: number | null;
  key: string | null;
  type: string;
  code: string;
  message: string;
}

export interface PlannedUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ReplyPlan {
  model: string;
  stream: boolean;
  /** `stream_options.include_usage`: whether a streamed reply ends with a usage-only chunk. */
  includeUsage: boolean;
  kind: 'text' | 'tool_calls';
  /** The reply text after `max_tokens` truncation ('' for tool calls); equals `contentChunks.join('')`. */
  text: string;
  /** One word (with its trailing whitespace) per chunk. */
  contentChunks: string[];
  toolCalls: PlannedToolCall[];
  finishReason: FinishReason;
  /** Wait this long before each streamed chunk, or before a non-streamed answer. */
  delayMs: number;
  fail: PlannedFailure | null;
  /** Streaming: destroy the socket after this many content (or argument) chunks. */
  cutAfter: number | null;
  /**
   * Streaming: after this many content (or argument) chunks, send nothing more and keep the
   * connection open until the client leaves (an upstream that stalls mid-body).
   */
  stallAfter: number | null;
  json: boolean;
  usage: PlannedUsage;
  /** `!think`: reasoning streamed (or returned) before the answer, one word per chunk. */
  reasoningChunks: string[];
  /** The field the reasoning travels in (`!thinkfield`): as vLLM/DeepSeek, Ollama/OpenRouter, or OpenRouter's details. */
  reasoningField: 'reasoning_content' | 'reasoning' | 'reasoning_details';
  /** `!retryafter N`: the Retry-After header (seconds) of a scripted failure. */
  retryAfter: number | null;
  /** The request's `logprobs: true`: each content token carries a logprob, with `top_logprobs` alternatives. */
  logprobs: { top: number } | null;
  /**
   * `!failevent CODE` / `!errorevent CODE`: a Responses stream that fails after it started, with a
   * `response.failed` (or an `error`) event carrying CODE. The Chat Completions side ignores it.
   */
  streamFailure: { kind: 'failed' | 'error'; code: string } | null;
  /** `!websearch QUERY`: a Responses upstream offered a `web_search` tool runs it before answering. */
  webSearch: string | null;
  /** `!filesearch QUERY`: a Responses upstream offered a `file_search` tool runs it before answering. */
  fileSearch: string | null;
  /** `!code PY`: a Responses upstream offered a `code_interpreter` tool runs PY before answering. */
  code: string | null;
  /** `!image PROMPT`: a Responses upstream offered an `image_generation` tool draws PROMPT before answering. */
  image: string | null;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Text of a message `content`: a string, or the `text` of its `type: "text"` parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts: string[] = [];
  for (const part of content) {
    if (isObject(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
  }
  // Parts are separate blocks; joining with a newline keeps a directive in its own part on its own line.
  return texts.join('\n');
}

/** Splits text into chunks of one word plus its trailing whitespace, so `chunks.join('') === text`. */
export function wordChunks(text: string): string[] {
  const chunks: string[] = text.match(/\S+\s*/g) ?? [];
  const lead = /^\s+/.exec(text)?.[0];
  if (lead !== undefined) {
    if (chunks.length > 0) chunks[0] = lead + chunks[0];
    else chunks.push(lead);
  }
  return chunks;
}

const ARGUMENT_PIECE = 10;

function argumentPieces(args: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < args.length; i += ARGUMENT_PIECE) pieces.push(args.slice(i, i + ARGUMENT_PIECE));
  return pieces;
}

const countWords = (text: string): number => text.match(/\S+/g)?.length ?? 0;

// ---------------------------------------------------------------------------------------------
// Directives

interface Directives {
  /** Reply text pieces from `!say` / `!words`, in order. */
  texts: string[];
  calls: Array<{ name: string; arguments: string }>;
  delayMs: number;
  fail: { status: number; times: number | null; key: string | null } | null;
  cutAfter: number | null;
  stallAfter: number | null;
  json: boolean;
  /** The non-directive lines, i.e. what the user "said". */
  plain: string[];
  think: string[];
  thinkField: ReplyPlan['reasoningField'];
  retryAfter: number | null;
  streamFailure: ReplyPlan['streamFailure'];
  webSearch: string | null;
  fileSearch: string | null;
  code: string | null;
  image: string | null;
}

const DIRECTIVE_LINE = /^\s*!(say|words|call|delay|fail|cutafter|stallafter|json|think|thinkfield|retryafter|failevent|errorevent|websearch|filesearch|code|image)(?:[ \t](.*))?$/;
const NON_NEGATIVE_INT = /^\d+$/;

function parseDirectives(text: string): Directives {
  const d: Directives = {
    texts: [],
    calls: [],
    delayMs: 0,
    fail: null,
    cutAfter: null,
    stallAfter: null,
    json: false,
    plain: [],
    think: [],
    thinkField: 'reasoning_content',
    retryAfter: null,
    streamFailure: null,
    webSearch: null,
    fileSearch: null,
    code: null,
    image: null,
  };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (!applyDirective(d, line)) d.plain.push(line);
  }
  return d;
}

/**
 * Returns false when the line is not a well-formed directive, so that prose which happens to
 * start with "!" (or a typo such as "!words ten") is echoed back, which makes the mistake visible.
 */
function applyDirective(d: Directives, line: string): boolean {
  const m = DIRECTIVE_LINE.exec(line);
  if (!m) return false;
  const name = m[1];
  const rest = m[2] ?? '';
  const args = rest.trim().split(/\s+/).filter(Boolean);
  switch (name) {
    case 'say':
      // Everything after "!say " verbatim: the reply must be exactly what the test wrote.
      d.texts.push(rest);
      return true;
    case 'words': {
      const n = args[0];
      if (args.length !== 1 || n === undefined || !NON_NEGATIVE_INT.test(n)) return false;
      d.texts.push(Array.from({ length: Number(n) }, (_, i) => `w${i + 1}`).join(' '));
      return true;
    }
    case 'call': {
      const cm = /^\s*(\S+)(?:\s+(.*?))?\s*$/.exec(rest);
      const fn = cm?.[1];
      if (fn === undefined) return false;
      d.calls.push({ name: fn, arguments: cm?.[2] ?? '{}' });
      return true;
    }
    case 'delay': {
      const n = args[0];
      if (args.length !== 1 || n === undefined || !NON_NEGATIVE_INT.test(n)) return false;
      d.delayMs = Number(n);
      return true;
    }
    case 'cutafter': {
      const n = args[0];
      if (args.length !== 1 || n === undefined || !NON_NEGATIVE_INT.test(n)) return false;
      d.cutAfter = Number(n);
      return true;
    }
    case 'stallafter': {
      const n = args[0];
      if (args.length !== 1 || n === undefined || !NON_NEGATIVE_INT.test(n)) return false;
      d.stallAfter = Number(n);
      return true;
    }
    case 'fail': {
      const [status, times, key] = args;
      if (status === undefined || !/^[45]\d\d$/.test(status) || args.length > 3) return false;
      if (times !== undefined && !NON_NEGATIVE_INT.test(times)) return false;
      // A TIMES without KEY shares one counter (the empty key) per server instance.
      d.fail = { status: Number(status), times: times === undefined ? null : Number(times), key: times === undefined ? null : (key ?? '') };
      return true;
    }
    case 'json':
      if (args.length > 0) return false;
      d.json = true;
      return true;
    case 'think':
      d.think.push(rest);
      return true;
    case 'thinkfield': {
      const field = args[0];
      if (args.length !== 1 || (field !== 'reasoning_content' && field !== 'reasoning' && field !== 'reasoning_details')) return false;
      d.thinkField = field;
      return true;
    }
    case 'websearch':
      if (rest.trim() === '') return false;
      d.webSearch = rest.trim();
      return true;
    case 'filesearch':
      if (rest.trim() === '') return false;
      d.fileSearch = rest.trim();
      return true;
    case 'code':
      if (rest.trim() === '') return false;
      d.code = rest.trim();
      return true;
    case 'image':
      if (rest.trim() === '') return false;
      d.image = rest.trim();
      return true;
    case 'failevent':
    case 'errorevent': {
      const code = args[0];
      if (args.length !== 1 || code === undefined || !/^[a-z_]+$/.test(code)) return false;
      d.streamFailure = { kind: name === 'failevent' ? 'failed' : 'error', code };
      return true;
    }
    case 'retryafter': {
      const n = args[0];
      if (args.length !== 1 || n === undefined || !NON_NEGATIVE_INT.test(n)) return false;
      d.retryAfter = Number(n);
      return true;
    }
    default:
      return false;
  }
}

function describeFailure(status: number): { type: string; code: string; message: string } {
  const message = `Scripted failure: HTTP ${status} (from a !fail directive)`;
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: 'invalid_request', message };
    case 401:
      return { type: 'authentication_error', code: 'invalid_api_key', message };
    case 403:
      return { type: 'permission_error', code: 'permission_denied', message };
    case 404:
      return { type: 'invalid_request_error', code: 'model_not_found', message };
    case 408:
      return { type: 'timeout_error', code: 'timeout', message };
    case 429:
      return { type: 'rate_limit_error', code: 'rate_limit_exceeded', message };
    case 503:
      return { type: 'server_error', code: 'service_unavailable', message };
    default:
      return status >= 500 ? { type: 'server_error', code: 'server_error', message } : { type: 'invalid_request_error', code: 'invalid_request', message };
  }
}

// ---------------------------------------------------------------------------------------------
// Tools

interface OfferedTool {
  name: string;
  parameters: unknown;
}

function offeredTools(tools: unknown): OfferedTool[] {
  if (!Array.isArray(tools)) return [];
  const out: OfferedTool[] = [];
  for (const t of tools) {
    if (!isObject(t) || t.type !== 'function') continue;
    // Chat Completions nests the function; the flat (Responses-style) shape is accepted too so a
    // caller that forwards tools unconverted still gets a sensible call.
    const fn = isObject(t.function) ? t.function : t;
    if (typeof fn.name === 'string' && fn.name !== '') out.push({ name: fn.name, parameters: fn.parameters });
  }
  return out;
}

function forcedToolName(toolChoice: unknown): string | null {
  if (!isObject(toolChoice) || toolChoice.type !== 'function') return null;
  if (isObject(toolChoice.function) && typeof toolChoice.function.name === 'string') return toolChoice.function.name;
  if (typeof toolChoice.name === 'string') return toolChoice.name;
  return null;
}

/** Number of the tool name's `_`-separated parts (length >= 4) that occur in the text. */
function nameScore(name: string, lowerText: string): number {
  let score = 0;
  for (const part of name.toLowerCase().split(/[_-]+/)) {
    if (part.length >= 4 && lowerText.includes(part)) score++;
  }
  return score;
}

function chooseTool(body: Json, userText: string): OfferedTool | null {
  const tools = offeredTools(body.tool_choice === 'none' ? [] : body.tools);
  if (tools.length === 0) return null;
  const forced = forcedToolName(body.tool_choice);
  if (forced !== null) return tools.find((t) => t.name === forced) ?? { name: forced, parameters: undefined };
  let best: OfferedTool | null = null;
  let bestScore = 0;
  const lower = userText.toLowerCase();
  for (const t of tools) {
    const score = nameScore(t.name, lower);
    // Most matching parts wins so "cancel my order" picks cancel_order over get_order.
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  if (best) return best;
  return body.tool_choice === 'required' ? (tools[0] ?? null) : null;
}

/** A minimal value satisfying the schema's required properties, so strict validators accept it. */
export function exampleFromSchema(schema: unknown, depth = 0): unknown {
  if (!isObject(schema) || depth > 8) return {};
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  const type = types[0] ?? (isObject(schema.properties) ? 'object' : undefined);
  switch (type) {
    case 'string':
      return 'demo';
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object': {
      const out: Json = {};
      const props = isObject(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? schema.required : [];
      for (const key of required) {
        if (typeof key === 'string') out[key] = exampleFromSchema(props[key], depth + 1);
      }
      return out;
    }
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------

function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

export function planReply(body: unknown): ReplyPlan {
  const b: Json = isObject(body) ? body : {};
  const messages = Array.isArray(b.messages) ? b.messages.filter(isObject) : [];
  const model = typeof b.model === 'string' ? b.model : 'scripted';
  const stream = b.stream === true;
  const includeUsage = stream && isObject(b.stream_options) && b.stream_options.include_usage === true;

  const last = messages.at(-1);
  let directives: Directives | null = null;
  let text: string | null = null;
  let calls: Array<{ name: string; arguments: string }> = [];

  if (last?.role === 'tool') {
    // Tool output is data, not a script: a directive inside a tool result is echoed, not obeyed,
    // otherwise a tool could steer the fake model the way prompt injection would.
    const results: string[] = [];
    for (let i = messages.length - 1; i >= 0 && messages[i]?.role === 'tool'; i--) {
      results.unshift(contentText(messages[i]?.content));
    }
    text = `Tool results: ${results.join(' | ')}`;
  } else {
    const userMessage = last?.role === 'user' ? last : messages.findLast((m) => m.role === 'user');
    const parsed = parseDirectives(contentText(userMessage?.content));
    const said = parsed.plain.join('\n').trim();
    if (last?.role === 'user') {
      directives = parsed;
      if (parsed.calls.length > 0) calls = parsed.calls;
      else if (parsed.texts.length > 0) text = parsed.texts.join('\n');
      else {
        const tool = chooseTool(b, said);
        if (tool) calls = [{ name: tool.name, arguments: JSON.stringify(exampleFromSchema(tool.parameters)) }];
      }
    }
    if (calls.length === 0 && text === null) text = `Hello! You said: ${said}`.trimEnd();
  }

  const json = directives?.json === true && calls.length === 0;
  if (json) text = JSON.stringify({ answer: text ?? '' });

  let contentChunks: string[] = [];
  let toolCalls: PlannedToolCall[] = [];
  let finishReason: FinishReason;
  if (calls.length > 0) {
    toolCalls = calls.map((c) => ({ ...c, argumentChunks: argumentPieces(c.arguments) }));
    finishReason = 'tool_calls';
  } else {
    contentChunks = wordChunks(text ?? '');
    const limit = positiveInt(b.max_completion_tokens) ?? positiveInt(b.max_tokens);
    finishReason = 'stop';
    if (limit !== null && contentChunks.length > limit) {
      contentChunks = contentChunks.slice(0, limit);
      finishReason = 'length';
    }
  }

  let promptWords = 0;
  for (const m of messages) promptWords += countWords(contentText(m.content));
  const reasoningChunks = wordChunks((directives?.think ?? []).join('\n'));
  // Reasoning counts as output, as upstreams count it (most report no reasoning_tokens apart).
  const completionTokens = reasoningChunks.length + (toolCalls.length > 0 ? toolCalls.reduce((n, c) => n + c.argumentChunks.length, 0) : contentChunks.length);
  const promptTokens = Math.max(1, promptWords);

  const fail = directives?.fail ?? null;
  return {
    model,
    stream,
    includeUsage,
    kind: toolCalls.length > 0 ? 'tool_calls' : 'text',
    text: contentChunks.join(''),
    contentChunks,
    toolCalls,
    finishReason,
    delayMs: directives?.delayMs ?? 0,
    fail: fail ? { ...fail, ...describeFailure(fail.status) } : null,
    cutAfter: directives?.cutAfter ?? null,
    stallAfter: directives?.stallAfter ?? null,
    json,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    reasoningChunks,
    reasoningField: directives?.thinkField ?? 'reasoning_content',
    retryAfter: directives?.retryAfter ?? null,
    logprobs: b.logprobs === true ? { top: positiveInt(b.top_logprobs) ?? 0 } : null,
    streamFailure: directives?.streamFailure ?? null,
    webSearch: directives?.webSearch ?? null,
    fileSearch: directives?.fileSearch ?? null,
    code: directives?.code ?? null,
    image: directives?.image ?? null,
  };
}
