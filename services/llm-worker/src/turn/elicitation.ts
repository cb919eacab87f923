import type { McpJob, McpJobResult, TurnJob } from '@spool/contracts';
import { newId, type McpElicitationRequestItem, type OutputMcpCall, type OutputMessage, type OutputTextPart } from '@spool/protocol';
import type { ResponseWriter } from '@spool/redis';
import type { Turn } from './context.ts';
import type { TurnOutcome } from './deps.ts';
import { handOver } from './handover.ts';
import { finishWith } from './seal.ts';

/*
 * The turn's side of MCP elicitation (mcp-executor/src/elicitation.ts holds the call): a call whose
 * tool asked the user something ends this response, and a follow-up's answer resumes the call.
 */

type CallResult = Extract<McpJobResult, { kind: 'call' }>;

/** The text a client that does not know `mcp_elicitation_request` still shows its user. */
export function elicitationText(req: McpElicitationRequestItem, responseId: string): string {
  const props = (req.requested_schema.properties ?? {}) as Record<string, { type?: unknown; description?: unknown; enum?: unknown }>;
  const required = new Set(Array.isArray(req.requested_schema.required) ? (req.requested_schema.required as unknown[]) : []);
  const fields = Object.entries(props).map(([name, p]) => {
    const kind = Array.isArray(p.enum) ? `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}` : typeof p.type === 'string' ? p.type : 'value';
    return `${name} (${kind}${required.has(name) ? ', required' : ''})`;
  });
  return [
    `The tool '${req.name}' on MCP server '${req.server_label}' is waiting for an answer: "${req.message}"`,
    fields.length > 0 ? `It asks for: ${fields.join('; ')}.` : '',
    `To answer, create a response with previous_response_id "${responseId}" and the input item {"type": "mcp_elicitation_response", "elicitation_request_id": "${req.id}", "action": "accept", "content": {…}} (or "action": "decline" or "cancel"). This is a Spool extension (mcp_elicitation_request).`,
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * Closes the calls that are waiting for the user (their result carries `elicitation`): each
 * `mcp_call` item ends `incomplete` with an output saying so, followed by its
 * `mcp_elicitation_request` item and an assistant message for clients that do not know the item.
 * True when there was any: the response then ends `completed`.
 */
function openElicitations(writer: ResponseWriter, calls: NonNullable<TurnJob['awaiting']>['calls'], results: Map<string, CallResult>): boolean {
  let any = false;
  for (const pending of calls) {
    const result = results.get(pending.itemId);
    const call = writer.snapshot.output[pending.outputIndex];
    if (!result?.elicitation || call?.type !== 'mcp_call') continue;
    any = true;
    writer.emit({ type: 'response.output_item.done', output_index: pending.outputIndex, item: { ...call, status: 'incomplete', output: result.output, error: null } });
    const req: McpElicitationRequestItem = {
      type: 'mcp_elicitation_request',
      id: result.elicitation.elicitationId,
      server_label: call.server_label,
      mcp_call_id: call.id,
      name: call.name,
      message: result.elicitation.message,
      requested_schema: result.elicitation.requestedSchema,
    };
    const reqIndex = writer.snapshot.output.length;
    writer.emit({ type: 'response.output_item.added', output_index: reqIndex, item: req });
    writer.emit({ type: 'response.output_item.done', output_index: reqIndex, item: req });
    emitMessage(writer, elicitationText(req, writer.snapshot.id));
  }
  return any;
}

function emitMessage(writer: ResponseWriter, text: string): void {
  const outputIndex = writer.snapshot.output.length;
  const item: OutputMessage = { type: 'message', id: newId('msg'), role: 'assistant', status: 'in_progress', content: [] };
  const base = { item_id: item.id, output_index: outputIndex, content_index: 0 };
  const part: OutputTextPart = { type: 'output_text', text, annotations: [], logprobs: [] };
  writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
  writer.emit({ type: 'response.content_part.added', ...base, part: { ...part, text: '' } });
  writer.emit({ type: 'response.output_text.delta', ...base, delta: text, logprobs: [] });
  writer.emit({ type: 'response.output_text.done', ...base, text, logprobs: [] });
  writer.emit({ type: 'response.content_part.done', ...base, part });
  writer.emit({ type: 'response.output_item.done', output_index: outputIndex, item: { ...item, status: 'completed', content: [part] } });
}

/**
 * Turn 0 of a follow-up that answers parked elicitations: each call reappears as an `mcp_call`
 * item of this response (in progress), and a `resume` job hands the answer to the executor holding
 * it; the next turn takes the result in as after any MCP call. No model inference first.
 */
function resumeElicitations(writer: ResponseWriter, job: TurnJob, carry: { trace?: Record<string, string> | undefined }): { awaiting: NonNullable<TurnJob['awaiting']>; children: McpJob[] } {
  const awaiting: NonNullable<TurnJob['awaiting']> = { lists: [], calls: [] };
  const children: McpJob[] = [];
  for (const r of job.elicitations ?? []) {
    const outputIndex = writer.snapshot.output.length;
    const item: OutputMcpCall = {
      type: 'mcp_call',
      id: newId('mcp'),
      server_label: r.call.serverLabel,
      name: r.call.toolName,
      arguments: r.call.arguments,
      output: null,
      error: null,
      status: 'in_progress',
      approval_request_id: null,
    };
    writer.emit({ type: 'response.output_item.added', output_index: outputIndex, item });
    writer.emit({ type: 'response.mcp_call_arguments.done', item_id: item.id, output_index: outputIndex, arguments: item.arguments });
    writer.emit({ type: 'response.mcp_call.in_progress', item_id: item.id, output_index: outputIndex });
    awaiting.calls.push({ itemId: item.id, outputIndex });
    children.push({
      kind: 'resume',
      responseId: job.responseId,
      turn: job.turn + 1,
      itemId: item.id,
      serverLabel: r.call.serverLabel,
      elicitationId: r.elicitationId,
      answer: r.answer,
      outputIndex,
      ...(carry.trace ? { trace: carry.trace } : {}),
    });
  }
  return { awaiting, children };
}

/**
 * The turn's elicitation step, after the children's results are in: calls waiting for the user
 * end the response `completed` (a follow-up's answer resumes them); a follow-up carrying answers
 * resumes its calls before any model inference. Null when neither applies.
 */
export async function elicitationStep(turn: Turn, childResults: McpJobResult[]): Promise<TurnOutcome | null> {
  const byItem = new Map(childResults.flatMap((r) => (r.kind === 'call' ? [[r.itemId, r] as const] : [])));
  if (openElicitations(turn.writer, turn.job.awaiting?.calls ?? [], byItem)) return finishWith(turn, 'completed', {});
  if ((turn.job.elicitations ?? []).length === 0) return null;
  const { awaiting, children } = resumeElicitations(turn.writer, turn.job, turn.carry);
  return handOver(turn, awaiting, children);
}
