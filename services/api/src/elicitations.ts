import { isElicitationIdShape, verifyElicitationId, type ElicitationAnswer, type ElicitationResume, type MacFn } from '@spool/contracts';
import { ApiError, type CreateResponseRequest, type InputItem, type McpElicitationResponseItem } from '@spool/protocol';
import type { ElicitationStore, ResponseRecord } from '@spool/redis';

/*
 * The API's side of MCP elicitation: a follow-up's `mcp_elicitation_response` items are matched to
 * the `mcp_elicitation_request` of the previous_response_id chain, checked (the id's MAC, the
 * parked question still waiting, the answer against the form the server asked for) and claimed
 * once; the first turn then hands each answer to its held call (llm-worker turn/elicitation.ts).
 */

type Content = NonNullable<ElicitationAnswer['content']>;

/**
 * Why `content` does not fit MCP's restricted form schema (a flat object of string, number,
 * integer, boolean and enum-array properties), or null when it fits. Properties of kinds Spool
 * does not know are passed through unchecked: the server validates the answer too.
 */
export function contentProblem(schema: Record<string, unknown>, content: Content): string | null {
  const props = (typeof schema.properties === 'object' && schema.properties !== null ? schema.properties : {}) as Record<string, Record<string, unknown>>;
  const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : [];
  for (const name of required) if (!(name in content)) return `'${name}' is required.`;
  for (const [name, value] of Object.entries(content)) {
    const p = props[name];
    if (!p || typeof p !== 'object') return `'${name}' is not a field of the requested form (fields: ${Object.keys(props).join(', ') || 'none'}).`;
    const problem = valueProblem(p, value);
    if (problem) return `'${name}' ${problem}`;
  }
  return null;
}

function valueProblem(p: Record<string, unknown>, value: Content[string]): string | null {
  const options = Array.isArray(p.enum) ? p.enum : Array.isArray(p.oneOf) ? p.oneOf.map((o) => (o as { const?: unknown }).const) : null;
  switch (p.type) {
    case 'string': {
      if (typeof value !== 'string') return 'must be a string.';
      if (options && !options.includes(value)) return `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}.`;
      if (typeof p.minLength === 'number' && value.length < p.minLength) return `must be at least ${p.minLength} characters.`;
      if (typeof p.maxLength === 'number' && value.length > p.maxLength) return `must be at most ${p.maxLength} characters.`;
      return null;
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number.';
      if (p.type === 'integer' && !Number.isInteger(value)) return 'must be an integer.';
      if (typeof p.minimum === 'number' && value < p.minimum) return `must be at least ${p.minimum}.`;
      if (typeof p.maximum === 'number' && value > p.maximum) return `must be at most ${p.maximum}.`;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be a boolean.';
    case 'array': {
      if (!Array.isArray(value)) return 'must be an array of strings.';
      const items = (p.items ?? {}) as { enum?: unknown; anyOf?: unknown };
      const allowed = Array.isArray(items.enum) ? items.enum : Array.isArray(items.anyOf) ? items.anyOf.map((o) => (o as { const?: unknown }).const) : null;
      const bad = allowed ? value.find((v) => !allowed.includes(v)) : undefined;
      if (bad !== undefined) return `has ${JSON.stringify(bad)}, which is not one of ${allowed?.map((o) => JSON.stringify(o)).join(', ')}.`;
      if (typeof p.minItems === 'number' && value.length < p.minItems) return `needs at least ${p.minItems} items.`;
      if (typeof p.maxItems === 'number' && value.length > p.maxItems) return `takes at most ${p.maxItems} items.`;
      return null;
    }
    default:
      return null;
  }
}

export interface ElicitationAnswersDeps {
  store: ElicitationStore;
  /** The keyed MAC elicitation ids carry (SecretBox.digest, shared by every process). */
  mac: MacFn;
  /** Epoch ms. */
  nowMs: () => number;
}

export class ElicitationAnswers {
  constructor(private readonly d: ElicitationAnswersDeps) {}

  /**
   * Checks and claims every `mcp_elicitation_response` of the input, in order; on any refusal the
   * claims already taken are given back. Another API key's ids do not exist (the chain is the
   * caller's, and the id's MAC names the owner).
   */
  async resolve(claimant: string, owner: string, request: CreateResponseRequest, input: InputItem[], chain: ResponseRecord[]): Promise<ElicitationResume[]> {
    const answers = input.flatMap((item, i) => (item.type === 'mcp_elicitation_response' ? [{ item, i }] : []));
    if (answers.length === 0) return [];
    const asked = new Map<string, { holder: string; serverLabel: string; itemId: string }>();
    for (const r of chain) for (const o of r.snapshot.output) if (o.type === 'mcp_elicitation_request') asked.set(o.id, { holder: r.id, serverLabel: o.server_label, itemId: o.mcp_call_id });
    const out: ElicitationResume[] = [];
    try {
      for (const { item, i } of answers) out.push(await this.#claimOne(claimant, owner, request, item, `input[${i}]`, asked, out));
    } catch (err) {
      await this.giveBack(claimant, out);
      throw err;
    }
    return out;
  }

  /** Gives claims back (the request was refused later, or could not be enqueued), so the question can be answered again. */
  async giveBack(claimant: string, resumes: ElicitationResume[]): Promise<void> {
    for (const r of resumes) await this.d.store.release(r.elicitationId, claimant).catch(() => undefined);
  }

  async #claimOne(
    claimant: string,
    owner: string,
    request: CreateResponseRequest,
    item: McpElicitationResponseItem,
    param: string,
    asked: Map<string, { holder: string; serverLabel: string; itemId: string }>,
    taken: ElicitationResume[],
  ): Promise<ElicitationResume> {
    const id = item.elicitation_request_id;
    const idParam = `${param}.elicitation_request_id`;
    if (taken.some((t) => t.elicitationId === id)) throw ApiError.badRequest(`Elicitation request '${id}' is answered more than once in this input.`, idParam);
    if (!request.previous_response_id) {
      throw ApiError.badRequest('An mcp_elicitation_response answers a question of an earlier response: send it with previous_response_id.', 'previous_response_id', 'elicitation_request_not_found');
    }
    const found = asked.get(id);
    if (!found) throw ApiError.badRequest(`No mcp_elicitation_request with id '${id}' was found in the previous_response_id chain.`, idParam, 'elicitation_request_not_found');
    if (!isElicitationIdShape(id) || !verifyElicitationId(this.d.mac, id, { owner, serverLabel: found.serverLabel, responseId: found.holder, itemId: found.itemId })) {
      throw ApiError.badRequest(`Elicitation request '${id}' was not issued by this server for this API key.`, idParam, 'elicitation_request_invalid');
    }
    const parked = await this.d.store.get(id);
    const expired = () =>
      ApiError.badRequest(
        `Elicitation request '${id}' is no longer waiting for an answer: the tool waited its elicitation_timeout_ms, was told "cancel" and its call was stopped.`,
        idParam,
        'elicitation_expired',
      );
    if (!parked || parked.owner !== owner || parked.responseId !== found.holder) throw expired();
    let content: Content | undefined;
    if (item.action === 'accept') {
      content = item.content ?? {};
      const problem = contentProblem(parked.requestedSchema, content);
      if (problem) throw ApiError.badRequest(`The answer to elicitation request '${id}' does not fit the requested form: ${problem}`, `${param}.content`);
    } else if (item.content != null) {
      throw ApiError.badRequest(`content is only sent with action "accept" (this answer is "${item.action}").`, `${param}.content`);
    }
    if (parked.expiresAt <= this.d.nowMs()) throw expired();
    const claim = await this.d.store.claim(id, claimant);
    if (claim.kind === 'used') throw ApiError.badRequest(`Elicitation request '${id}' was already answered (by response '${claim.by}').`, idParam, 'elicitation_already_used');
    if (claim.kind === 'expired') {
      // The holder stopped waiting (timeout or shutdown) and recorded why.
      const why = await this.d.store.resultOf(id).catch(() => null);
      const reason =
        why?.error && 'message' in why.error
          ? why.error.message
          : why?.output != null
            ? `the tool stopped waiting for it and finished: ${why.output.slice(0, 500)}`
            : why?.error
              ? 'the tool stopped waiting for it and failed.'
              : null;
      if (reason) throw ApiError.badRequest(`Elicitation request '${id}' is no longer waiting for an answer: ${reason}`, idParam, 'elicitation_expired');
    }
    if (claim.kind !== 'claimed') throw expired();
    return {
      elicitationId: id,
      answer: { action: item.action, ...(content ? { content } : {}) },
      call: { serverLabel: parked.serverLabel, toolName: parked.toolName, arguments: parked.arguments },
    };
  }
}
