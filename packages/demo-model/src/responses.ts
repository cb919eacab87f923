/**
 * The scripted upstream's Responses side (`POST /v1/responses`), on the same plan as its Chat
 * Completions side: the request is read as the Chat body it stands for (planReply's input), and
 * the plan is written as a Responses event stream. Pure: ids come from the caller.
 */
import { contentText, type ReplyPlan } from './plan.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return contentText(content.map((p) => (isObject(p) && typeof p.text === 'string' ? { type: 'text', text: p.text } : p)));
}

/**
 * The Chat Completions body a Responses request stands for: instructions as the system message,
 * messages by role, function calls on assistant messages and their outputs as `tool` messages
 * (so a tool round reads as on the Chat side), `max_output_tokens` as `max_tokens`. Reasoning
 * items are not conversation; the recorder keeps them for tests to read.
 */
export function chatBodyOfResponses(body: Json): Json {
  const messages: Json[] = [];
  if (typeof body.instructions === 'string' && body.instructions) messages.push({ role: 'system', content: body.instructions });
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  for (const item of input) {
    if (!isObject(item)) continue;
    const type = item.type ?? 'message';
    if (type === 'message') messages.push({ role: item.role, content: partsText(item.content) });
    else if (type === 'function_call') {
      const last = messages.at(-1);
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      if (last?.role === 'assistant' && Array.isArray(last.tool_calls)) last.tool_calls.push(call);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') messages.push({ role: 'tool', tool_call_id: item.call_id, content: partsText(item.output) });
  }
  const include = Array.isArray(body.include) ? body.include : [];
  return {
    model: body.model,
    messages,
    stream: body.stream === true,
    stream_options: { include_usage: true },
    tools: body.tools,
    tool_choice: body.tool_choice,
    ...(typeof body.max_output_tokens === 'number' ? { max_tokens: body.max_output_tokens } : {}),
    ...(include.includes('message.output_text.logprobs') || typeof body.top_logprobs === 'number' ? { logprobs: true, top_logprobs: body.top_logprobs } : {}),
  };
}

/** The sealed reasoning the scripted upstream hands out: readable, so tests can see it come back. */
export function scriptedEncryptedContent(reasoning: string): string {
  return `enc_${Buffer.from(reasoning, 'utf8').toString('base64url')}`;
}

/** One event of the stream; `body` marks the content and argument deltas that `!cutafter`/`!stallafter` count. */
export interface PlannedEvent {
  event: Json;
  body: boolean;
}

/**
 * The Responses events of a plan, in the order OpenAI streams them: created, in_progress; a
 * reasoning item (raw reasoning text, a summary when `reasoning.summary` was asked, its
 * `encrypted_content` when `include` asked for it); the message or the function calls; then the
 * terminal event (`completed`, `incomplete` at `max_output_tokens`, or a scripted failure).
 */
export function responsesEvents(plan: ReplyPlan, body: Json, ids: { response: string; next: (prefix: string) => string }): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const created = Math.floor(Date.now() / 1000);
  const output: Json[] = [];
  const base = (status: string): Json => ({
    id: ids.response,
    object: 'response',
    created_at: created,
    model: plan.model,
    status,
    output: [...output],
    usage: null,
    error: null,
    incomplete_details: null,
  });
  const push = (event: Json, isBody = false) => out.push({ event, body: isBody });
  push({ type: 'response.created', response: base('in_progress') });
  push({ type: 'response.in_progress', response: base('in_progress') });
  if (plan.streamFailure?.kind === 'error') {
    push({ type: 'error', code: plan.streamFailure.code, message: `Scripted stream error: ${plan.streamFailure.code}`, param: null });
    return out;
  }

  const include = Array.isArray(body.include) ? body.include : [];
  const wantsSummary = isObject(body.reasoning) && typeof body.reasoning.summary === 'string';
  if (plan.reasoningChunks.length > 0) {
    const index = output.length;
    const id = ids.next('rs');
    const text = plan.reasoningChunks.join('');
    push({ type: 'response.output_item.added', output_index: index, item: { type: 'reasoning', id, summary: [] } });
    push({ type: 'response.content_part.added', item_id: id, output_index: index, content_index: 0, part: { type: 'reasoning_text', text: '' } });
    for (const piece of plan.reasoningChunks) push({ type: 'response.reasoning_text.delta', item_id: id, output_index: index, content_index: 0, delta: piece });
    push({ type: 'response.reasoning_text.done', item_id: id, output_index: index, content_index: 0, text });
    const summary = wantsSummary ? [{ type: 'summary_text', text: `Summary: ${text.trim()}` }] : [];
    if (wantsSummary) {
      push({ type: 'response.reasoning_summary_part.added', item_id: id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
      push({ type: 'response.reasoning_summary_text.delta', item_id: id, output_index: index, summary_index: 0, delta: summary[0]?.text });
      push({ type: 'response.reasoning_summary_text.done', item_id: id, output_index: index, summary_index: 0, text: summary[0]?.text });
      push({ type: 'response.reasoning_summary_part.done', item_id: id, output_index: index, summary_index: 0, part: summary[0] });
    }
    const item = {
      type: 'reasoning',
      id,
      summary,
      content: [{ type: 'reasoning_text', text }],
      ...(include.includes('reasoning.encrypted_content') ? { encrypted_content: scriptedEncryptedContent(text) } : {}),
      status: 'completed',
    };
    output.push(item);
    push({ type: 'response.output_item.done', output_index: index, item });
  }

  const offers = (prefix: string): boolean => Array.isArray(body.tools) && body.tools.some((t) => isObject(t) && typeof t.type === 'string' && t.type.startsWith(prefix));
  /** A hosted tool run as OpenAI streams one: added, its status events, done with its results. */
  const hosted = (type: string, prefix: string, added: Json, done: Json, working = 'searching', during: (id: string, index: number) => void = () => {}): void => {
    const index = output.length;
    const id = ids.next(prefix);
    push({ type: 'response.output_item.added', output_index: index, item: { type, id, status: 'in_progress', ...added } });
    push({ type: `response.${type}.in_progress`, item_id: id, output_index: index });
    during(id, index);
    for (const status of [working, 'completed']) push({ type: `response.${type}.${status}`, item_id: id, output_index: index });
    const item = { type, id, status: 'completed', ...done };
    output.push(item);
    push({ type: 'response.output_item.done', output_index: index, item });
  };
  if (plan.webSearch !== null && offers('web_search')) {
    const q = plan.webSearch;
    hosted(
      'web_search_call',
      'ws',
      { action: { type: 'search', query: q } },
      { action: { type: 'search', query: q, sources: [{ type: 'url', url: `https://search.example/?q=${encodeURIComponent(q)}` }] } },
    );
  }
  if (plan.fileSearch !== null && offers('file_search')) {
    const q = plan.fileSearch;
    hosted('file_search_call', 'fs', { queries: [q] }, { queries: [q], results: [{ file_id: 'file_scripted', filename: 'notes.txt', score: 0.9, text: `About ${q}.`, attributes: {} }] });
  }
  if (plan.code !== null && offers('code_interpreter')) {
    const code = plan.code;
    // The code streams in two deltas before it runs; its "output" is the code echoed as logs.
    const cut = Math.ceil(code.length / 2);
    const during = (id: string, index: number): void => {
      for (const delta of [code.slice(0, cut), code.slice(cut)]) push({ type: 'response.code_interpreter_call_code.delta', item_id: id, output_index: index, delta });
      push({ type: 'response.code_interpreter_call_code.done', item_id: id, output_index: index, code });
    };
    const container = { container_id: 'cntr_scripted' };
    hosted('code_interpreter_call', 'ci', { ...container, code: '', outputs: null }, { ...container, code, outputs: [{ type: 'logs', logs: `ran: ${code}` }] }, 'interpreting', during);
  }
  if (plan.image !== null && offers('image_generation')) {
    // The "image" is the prompt, base64: one partial preview of its first half, then the whole.
    const b64 = (text: string): string => Buffer.from(text).toString('base64');
    const prompt = plan.image;
    const during = (id: string, index: number): void => {
      push({ type: 'response.image_generation_call.partial_image', item_id: id, output_index: index, partial_image_index: 0, partial_image_b64: b64(prompt.slice(0, Math.ceil(prompt.length / 2))) });
    };
    hosted('image_generation_call', 'ig', { result: null }, { result: b64(prompt), revised_prompt: prompt, size: '1024x1024', output_format: 'png' }, 'generating', during);
  }

  if (plan.kind === 'tool_calls') {
    for (const call of plan.toolCalls) {
      const index = output.length;
      const id = ids.next('fc');
      const item = { type: 'function_call', id, call_id: ids.next('call'), name: call.name, arguments: '', status: 'in_progress' };
      push({ type: 'response.output_item.added', output_index: index, item });
      for (const piece of call.argumentChunks) push({ type: 'response.function_call_arguments.delta', item_id: id, output_index: index, delta: piece }, true);
      push({ type: 'response.function_call_arguments.done', item_id: id, output_index: index, arguments: call.arguments, name: call.name });
      const done = { ...item, arguments: call.arguments, status: 'completed' };
      output.push(done);
      push({ type: 'response.output_item.done', output_index: index, item: done });
    }
  } else {
    const index = output.length;
    const id = ids.next('msg');
    const item = { type: 'message', id, role: 'assistant', status: 'in_progress', content: [] as Json[] };
    push({ type: 'response.output_item.added', output_index: index, item });
    push({ type: 'response.content_part.added', item_id: id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    const logprobs = (piece: string) => (plan.logprobs ? [{ token: piece, logprob: -0.25, top_logprobs: [] }] : []);
    for (const piece of plan.contentChunks) push({ type: 'response.output_text.delta', item_id: id, output_index: index, content_index: 0, delta: piece, logprobs: logprobs(piece) }, true);
    const part = { type: 'output_text', text: plan.text, annotations: [], logprobs: [] };
    push({ type: 'response.output_text.done', item_id: id, output_index: index, content_index: 0, text: plan.text, logprobs: [] });
    push({ type: 'response.content_part.done', item_id: id, output_index: index, content_index: 0, part });
    const done = { ...item, status: plan.finishReason === 'length' ? 'incomplete' : 'completed', content: [part] };
    output.push(done);
    push({ type: 'response.output_item.done', output_index: index, item: done });
  }

  const usage = {
    input_tokens: plan.usage.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: plan.usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: plan.reasoningChunks.length },
    total_tokens: plan.usage.total_tokens,
  };
  if (plan.streamFailure?.kind === 'failed') {
    push({ type: 'response.failed', response: { ...base('failed'), error: { code: plan.streamFailure.code, message: `Scripted failure: ${plan.streamFailure.code}` } } });
  } else if (plan.finishReason === 'length') {
    push({ type: 'response.incomplete', response: { ...base('incomplete'), incomplete_details: { reason: 'max_output_tokens' }, usage } });
  } else {
    push({ type: 'response.completed', response: { ...base('completed'), usage } });
  }
  return out;
}
