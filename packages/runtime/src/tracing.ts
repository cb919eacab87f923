import { context, propagation, trace, type Context, type Span } from '@opentelemetry/api';

/**
 * Spool's tracer. `@opentelemetry/api` is a no-op until an SDK registers a provider (and a
 * propagator) in this process, e.g. `node --import @opentelemetry/auto-instrumentations-node/register`
 * with the standard `OTEL_*` variables; Spool itself configures no exporter.
 */
export const tracer = trace.getTracer('spool');

/** W3C trace context as it travels in job data and in MCP `_meta` (`traceparent`, `tracestate`). */
export type TraceCarrier = Record<string, string>;

/**
 * The carrier for `span` (or for `parent` when no span is given). Contexts are passed explicitly
 * rather than through a context manager, so this works whether or not one is installed.
 */
export function injectTrace(span: Span | null, parent: Context = context.active()): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(span ? trace.setSpan(parent, span) : parent, carrier);
  return carrier;
}

/** The context a carrier names (the root context when it is absent or empty). */
export function extractTrace(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(context.active(), carrier) : context.active();
}

/** GenAI semantic convention attribute names (OpenTelemetry semconv, `gen_ai.*`). */
export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
} as const;
