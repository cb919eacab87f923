import { randomBytes } from 'node:crypto';
import { mintElicitationId, type ElicitationAnswer, type HeldCallStep, type MacFn, type McpJob, type McpJobResult } from '@spool/contracts';
import type { ElicitationStore, ResumedBy } from '@spool/redis';
import type { Logger } from '@spool/runtime';
import type { ElicitHook, ElicitationQuestion, ElicitationReply, McpCallOutcome } from './mcp/index.ts';

/*
 * Calls parked on an MCP elicitation. When the tool of a running call asks the user something
 * (`elicitation/create`), the call job ends at once with the question (the response seals
 * `completed` with an `mcp_elicitation_request`), while this process keeps the `tools/call` open and
 * waits, polling Redis, for the answer a follow-up hands over (a `resume` job, on any executor). It
 * then answers the server and records what the call did next (its result, or another question)
 * for the resume job. A holder lease, renewed while it waits, tells the resume job this process is
 * alive: when it is gone the call failed with its executor, and the resume job says so instead of
 * waiting. Past `elicitation_timeout_ms` the server gets `cancel`, the call is stopped, and a late
 * answer is refused by the API.
 */

/** Default wait for the user, for servers named by URL (configured servers set `elicitation_timeout_ms`). */
export const DEFAULT_ELICITATION_TIMEOUT_MS = 15 * 60_000;
/** How often a holder looks for its answer and a resume job for its result: a question is answered by a person, 200 ms is instant for them. */
const POLL_MS = 200;
/** The holder lease: renewed every LEASE_MS / 5, so a live holder never loses it to a slow Redis round trip. */
const LEASE_MS = 10_000;
/** On shutdown, how long a held tool that was told "cancel" may take to end before its call is stopped. */
const SHUTDOWN_GRACE_MS = 1000;

type Step = { kind: 'done'; outcome: McpCallOutcome } | { kind: 'ask'; question: ElicitationQuestion; hold: () => void; reply: (r: ElicitationReply | null) => void };

/** What the call does next, in order: questions and its one result. */
class CallSteps {
  readonly #queue: Step[] = [];
  #waiter: ((s: Step) => void) | undefined;
  push(step: Step): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) w(step);
    else this.#queue.push(step);
  }
  /** The call's result, if it already ended (while a question was still open: the server gave up on it). */
  ended(): boolean {
    return this.#queue.some((s) => s.kind === 'done');
  }
  next(): Promise<Step> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

export interface HeldCallsDeps {
  store: ElicitationStore;
  /** The keyed MAC elicitation ids carry (SecretBox.digest). */
  mac: MacFn;
  /** Owner and retention of a response a follow-up can continue; null when it cannot (store: false, Chat Completions, gone): its questions are declined. */
  resumable: (responseId: string) => Promise<{ owner: string; ttlSeconds: number } | null>;
  logger: Logger;
  now?: () => number;
  pollMs?: number;
  leaseMs?: number;
}

type CallJob = Extract<McpJob, { kind: 'call' }>;
type ResumeJob = Extract<McpJob, { kind: 'resume' }>;

/** The model-visible output of a call waiting for the user (the `mcp_call` item of the response that parked it). */
function waitingOutput(message: string, elicitationId: string): string {
  return `[waiting for the user] The tool asked the user: "${message.replace(/[\r\n]+/g, ' ')}". The call is paused until the user answers (elicitation request ${elicitationId}); its result follows when they do.`;
}

function failedStep(code: number, message: string): HeldCallStep {
  return { output: null, error: { type: 'mcp_protocol_error', code, message } };
}

/** The calls this executor holds open on a question, and the resume side that any executor runs. */
export class HeldCalls {
  readonly #holder = `${process.pid}-${randomBytes(6).toString('hex')}`;
  readonly #running = new Set<Promise<void>>();
  /** Held calls whose tool is working on after its answer: shutdown stops them. */
  readonly #working = new Set<AbortController>();
  #closing = false;
  readonly #now: () => number;
  readonly #pollMs: number;
  readonly #leaseMs: number;

  constructor(private readonly deps: HeldCallsDeps) {
    this.#now = deps.now ?? Date.now;
    this.#pollMs = deps.pollMs ?? POLL_MS;
    this.#leaseMs = deps.leaseMs ?? LEASE_MS;
  }

  /**
   * Runs one call that may park. `start` makes the call (the pool's callTool) with the given
   * signal and question hook; `toResult` bounds an outcome into the job's result. Resolves with the
   * call's result, or, when the tool asks the user first, with the question (`elicitation`) while
   * the call stays open here.
   */
  async run(
    call: CallJob,
    signal: AbortSignal,
    timeoutMs: number,
    start: (signal: AbortSignal, onElicit: ElicitHook | undefined) => Promise<McpCallOutcome>,
    toResult: (outcome: McpCallOutcome) => McpJobResult,
  ): Promise<McpJobResult> {
    // The call outlives the job when it parks, so it has its own signal, tied to the job's only until then.
    const ctl = new AbortController();
    const forward = (): void => ctl.abort(signal.reason);
    if (signal.aborted) ctl.abort(signal.reason);
    else signal.addEventListener('abort', forward, { once: true });
    const steps = new CallSteps();
    const onElicit = (question: ElicitationQuestion, hold: () => void) => new Promise<ElicitationReply | null>((reply) => steps.push({ kind: 'ask', question, hold, reply }));
    start(ctl.signal, onElicit).then(
      (outcome) => steps.push({ kind: 'done', outcome }),
      (err: unknown) => steps.push({ kind: 'done', outcome: { ok: false, error: { type: 'mcp_protocol_error', code: -32603, message: String(err) }, message: String(err) } }),
    );
    // Whether the response can be continued is read only when a question comes (most calls ask none).
    let resumable: { owner: string; ttlSeconds: number } | null = null;
    let first = await steps.next();
    while (first.kind === 'ask') {
      // A failed read only costs this question its parking: it is declined like any other.
      resumable = this.#closing ? null : await this.deps.resumable(call.responseId).catch(() => null);
      if (resumable) break;
      first.reply(null); // declined, and noted in the call's output by the pool
      first = await steps.next();
    }
    signal.removeEventListener('abort', forward);
    if (first.kind === 'done') return toResult(first.outcome);
    if (!resumable) throw new Error('unreachable: a question is parked only for a resumable response');
    first.hold();
    const log = this.deps.logger.child({ responseId: call.responseId, itemId: call.itemId, server: call.serverLabel });
    const ctx = { call, owner: resumable.owner, ttlSeconds: resumable.ttlSeconds, timeoutMs, ctl, steps, toResult, log };
    let id: string;
    try {
      id = await this.#park(ctx, first.question);
    } catch (err) {
      log.warn({ err }, 'could not park an elicitation');
      first.reply({ action: 'cancel' });
      ctl.abort();
      return {
        kind: 'call',
        itemId: call.itemId,
        output: null,
        error: { type: 'mcp_protocol_error', code: -32603, message: 'The tool asked the user a question, and Spool could not park the call to wait for the answer.' },
      };
    }
    const hold = this.#hold(ctx, id, first).catch((err: unknown) => {
      // Redis failed under the holder: the call is stopped, and the resume finds the lease gone.
      log.error({ err }, 'a parked call failed');
      ctl.abort();
    });
    this.#running.add(hold);
    void hold.finally(() => this.#running.delete(hold));
    return {
      kind: 'call',
      itemId: call.itemId,
      output: waitingOutput(first.question.message, id),
      error: null,
      elicitation: { elicitationId: id, message: first.question.message, requestedSchema: first.question.requestedSchema },
    };
  }

  /** The resume job: hands the answer over and waits for what the held call does next. */
  async resume(job: ResumeJob, signal: AbortSignal): Promise<McpJobResult> {
    const { store } = this.deps;
    const id = job.elicitationId;
    const asResult = (step: HeldCallStep): McpJobResult => ({
      kind: 'call',
      itemId: job.itemId,
      output: step.output,
      error: step.error,
      ...(step.elicitation ? { elicitation: step.elicitation } : {}),
    });
    // Set once: a retried resume, or the holder's own timeout, may have set it already.
    await store.answer(id, job.answer, { responseId: job.responseId, itemId: job.itemId });
    for (;;) {
      if (signal.aborted) return asResult(failedStep(-32001, 'The tool call was cancelled with its response.'));
      const step = await store.resultOf(id);
      if (step) return asResult(step);
      if (!(await store.held(id))) {
        // The holder writes the result before it drops the lease: read once more before concluding.
        const last = await store.resultOf(id);
        return asResult(
          last ??
            failedStep(
              -32001,
              'The executor that held this tool call open stopped before the call finished, so the answer could not reach the tool; the call is lost (the tool may or may not have acted on it).',
            ),
        );
      }
      await sleep(this.#pollMs, signal);
    }
  }

  /** Stops waiting: every held call gets `cancel`, is stopped, and its resume learns why. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const ctl of this.#working) ctl.abort();
    await Promise.allSettled([...this.#running]);
  }

  /** Parks a question of the call, bound to the response and item that show it (the first, or the follow-up that resumed the call). */
  async #park(ctx: HoldContext, q: ElicitationQuestion, at: ResumedBy = { responseId: ctx.call.responseId, itemId: ctx.call.itemId }): Promise<string> {
    const { call } = ctx;
    const id = mintElicitationId(this.deps.mac, { owner: ctx.owner, serverLabel: call.serverLabel, responseId: at.responseId, itemId: at.itemId }, this.#now() / 1000);
    await this.deps.store.park(
      {
        elicitationId: id,
        responseId: at.responseId,
        itemId: at.itemId,
        owner: ctx.owner,
        serverLabel: call.serverLabel,
        toolName: call.toolName,
        arguments: call.arguments,
        message: q.message,
        requestedSchema: q.requestedSchema,
        expiresAt: this.#now() + ctx.timeoutMs,
      },
      Math.max(ctx.ttlSeconds, Math.ceil(ctx.timeoutMs / 1000) + 60),
      this.#holder,
      this.#leaseMs,
    );
    return id;
  }

  /** Holds one parked call until it ends: answer by answer, question by question. */
  async #hold(ctx: HoldContext, firstId: string, firstAsk: Extract<Step, { kind: 'ask' }>): Promise<void> {
    const { store } = this.deps;
    let id = firstId;
    let ask = firstAsk;
    for (;;) {
      const expiresAt = this.#now() + ctx.timeoutMs;
      const answer = await this.#waitAnswer(id, expiresAt, ctx.steps);
      if (answer.kind === 'ended') {
        // The server stopped waiting for the answer (its own request timeout) and the call ended:
        // its result is recorded, so a late answer is refused with it.
        let step = await ctx.steps.next();
        while (step.kind === 'ask') {
          step.reply({ action: 'cancel' });
          step = await ctx.steps.next();
        }
        const r = ctx.toResult(step.outcome);
        await store.putResult(id, r.kind === 'call' ? { output: r.output, error: r.error } : failedStep(-32603, 'Unexpected result.'));
        await store.dropLease(id);
        await store.unlist(id);
        return;
      }
      if (answer.kind !== 'answer') {
        const message =
          answer.kind === 'timeout'
            ? `The user did not answer the tool's question within ${ctx.timeoutMs} ms (elicitation_timeout_ms); the tool was told "cancel" and the call was stopped.`
            : 'The executor that held this tool call open shut down before the user answered; the tool was told "cancel" and the call was stopped.';
        // The tool hears "cancel" and may end on its own (its result has nobody to go to); on
        // shutdown it gets a moment to, then the call is stopped, as its session is about to close.
        ask.reply({ action: 'cancel' });
        if (answer.kind === 'closing') {
          await Promise.race([ctx.steps.next(), sleep(SHUTDOWN_GRACE_MS)]);
          ctx.ctl.abort();
        }
        await store.putResult(id, failedStep(-32001, message));
        await store.dropLease(id);
        await store.unlist(id);
        ctx.log.info({ reason: answer.kind }, 'a parked call gave up waiting');
        return;
      }
      const { answer: given, by } = answer.answer;
      ask.reply({ action: given.action, ...(given.action === 'accept' && given.content ? { content: given.content } : {}) });
      this.#working.add(ctx.ctl);
      if (this.#closing) ctx.ctl.abort();
      const next = await this.#keepLease(id, ctx.steps.next()).finally(() => this.#working.delete(ctx.ctl));
      if (next.kind === 'done') {
        const r = ctx.toResult(next.outcome);
        await store.putResult(id, r.kind === 'call' ? { output: r.output, error: r.error } : failedStep(-32603, 'Unexpected result.'));
        await store.dropLease(id);
        return;
      }
      // Another question: parked under a new id, which the resume of this one carries back.
      next.hold();
      const nextId = await this.#park(ctx, next.question, by ?? undefined);
      await store.putResult(id, {
        output: waitingOutput(next.question.message, nextId),
        error: null,
        elicitation: { elicitationId: nextId, message: next.question.message, requestedSchema: next.question.requestedSchema },
      });
      await store.dropLease(id);
      id = nextId;
      ask = next;
    }
  }

  /** Waits for the answer, renewing the lease; at the deadline (or on shutdown) sets `cancel` itself, unless an answer won the race. */
  async #waitAnswer(
    id: string,
    expiresAt: number,
    steps: CallSteps,
  ): Promise<{ kind: 'answer'; answer: { answer: ElicitationAnswer; by: ResumedBy | null } } | { kind: 'timeout' | 'closing' | 'ended' }> {
    const { store } = this.deps;
    let renewedAt = this.#now();
    for (;;) {
      const answer = await store.answerOf(id);
      if (answer) return { kind: 'answer', answer };
      const late = steps.ended() ? 'ended' : this.#closing ? 'closing' : this.#now() >= expiresAt ? 'timeout' : null;
      if (late) {
        if (await store.answer(id, { action: 'cancel' })) return { kind: late };
        continue;
      }
      if (this.#now() - renewedAt >= this.#leaseMs / 5) {
        await store.renewLease(id, this.#holder, this.#leaseMs);
        renewedAt = this.#now();
      }
      await sleep(this.#pollMs);
    }
  }

  /** The lease stays renewed while the tool works on after its answer. */
  async #keepLease<T>(id: string, work: Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      void this.deps.store.renewLease(id, this.#holder, this.#leaseMs).catch(() => undefined);
    }, this.#leaseMs / 5);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }
}

interface HoldContext {
  call: CallJob;
  owner: string;
  ttlSeconds: number;
  timeoutMs: number;
  ctl: AbortController;
  steps: CallSteps;
  toResult: (outcome: McpCallOutcome) => McpJobResult;
  log: Logger;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
