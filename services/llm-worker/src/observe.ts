import { APIError } from 'openai';
import { SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { extractTrace, GEN_AI, injectTrace, tracer, type Metrics, type TraceCarrier } from '@spool/runtime';
import type { UpstreamUsage } from './turn/translate.ts';

/** One upstream call as metrics and a span see it; `chunk` is called once per network read. */
interface UpstreamCallObservation {
  chunk(): void;
  done(usage: UpstreamUsage | null, finishReason: string | null): void;
  failed(err: unknown): void;
}

/**
 * What a turn reports: per turn and per upstream call, never per token (a streamed answer's
 * deltas pass through `chunk`, which does work only on the first).
 */
export interface TurnObserver {
  /** Starts the span of one turn job; returns the carrier its children (upstream call, next jobs) use. */
  turnStarted(job: { responseId: string; turn: number; trace?: TraceCarrier | undefined }): { carrier: TraceCarrier; end(outcome: string): void };
  upstreamCall(call: { route: string; model: string; upstreamModel: string; responseId: string; trace?: TraceCarrier | undefined }): UpstreamCallObservation;
}

export function createTurnObserver(metrics: Metrics | undefined): TurnObserver {
  return {
    turnStarted(job) {
      const parent: Context = extractTrace(job.trace);
      const span = tracer.startSpan(`turn ${job.turn}`, { kind: SpanKind.CONSUMER, attributes: { [GEN_AI.responseId]: job.responseId, 'spool.turn': job.turn } }, parent);
      const started = performance.now();
      return {
        carrier: injectTrace(span, parent),
        end(outcome) {
          metrics?.turnDuration.observe({ outcome }, (performance.now() - started) / 1000);
          span.setAttribute('spool.turn.outcome', outcome);
          if (outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    upstreamCall(call) {
      const parent = extractTrace(call.trace);
      const span = tracer.startSpan(
        `chat ${call.upstreamModel}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { [GEN_AI.operation]: 'chat', [GEN_AI.provider]: 'openai', [GEN_AI.system]: 'openai', [GEN_AI.requestModel]: call.upstreamModel, [GEN_AI.responseId]: call.responseId },
        },
        parent,
      );
      const started = performance.now();
      let first = false;
      const elapsed = () => (performance.now() - started) / 1000;
      return {
        chunk() {
          if (first) return;
          first = true;
          metrics?.timeToFirstToken.observe({ route: call.route }, elapsed());
        },
        done(usage, finishReason) {
          metrics?.upstreamDuration.observe({ route: call.route }, elapsed());
          if (usage) {
            span.setAttribute(GEN_AI.inputTokens, usage.prompt_tokens);
            span.setAttribute(GEN_AI.outputTokens, usage.completion_tokens);
          }
          if (finishReason) span.setAttribute(GEN_AI.finishReasons, [finishReason]);
          span.end();
        },
        failed(err) {
          metrics?.upstreamDuration.observe({ route: call.route }, elapsed());
          const status = err instanceof APIError && err.status !== undefined ? String(err.status) : 'network';
          metrics?.upstreamErrors.inc({ route: call.route, status });
          span.setAttribute('error.type', status);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          span.end();
        },
      };
    },
  };
}
