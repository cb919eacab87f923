import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { routeFor, type Config } from './config.ts';

/**
 * Every Prometheus family Spool exposes, in one registry per running Spool (so two in one test
 * process do not mix). Families are registered at start-up and the known label sets are set to
 * zero, so a dashboard or an alert works on a fresh process. Label values are bounded: statuses,
 * configured route patterns, configured key names and MCP server labels, never ids or free text.
 * Work is counted per response, turn, call or delivery, never per streamed token.
 */
export function createMetrics(init: { models?: readonly string[]; keyNames?: readonly string[]; mcpServers?: readonly string[] } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  const m = {
    registry,
    responses: new Counter({ name: 'spool_responses_total', help: 'Responses sealed, by final status and model route.', labelNames: ['status', 'model'] as const, registers: r }),
    responseDuration: new Histogram({
      name: 'spool_response_duration_seconds',
      help: 'From create to seal, by final status.',
      labelNames: ['status'] as const,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: r,
    }),
    turnDuration: new Histogram({
      name: 'spool_turn_duration_seconds',
      help: 'One turn job, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: r,
    }),
    upstreamDuration: new Histogram({
      name: 'spool_upstream_request_duration_seconds',
      help: 'One upstream model call (with the SDK retries), by model route.',
      labelNames: ['route'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: r,
    }),
    timeToFirstToken: new Histogram({
      name: 'spool_upstream_time_to_first_token_seconds',
      help: 'From the upstream call to its first chunk (streamed calls), by model route.',
      labelNames: ['route'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    }),
    upstreamErrors: new Counter({
      name: 'spool_upstream_errors_total',
      help: 'Upstream calls that failed for good, by route and HTTP status (or `network`).',
      labelNames: ['route', 'status'] as const,
      registers: r,
    }),
    mcpCalls: new Counter({ name: 'spool_mcp_calls_total', help: 'MCP tool calls, by server (configured label, else `request`) and status.', labelNames: ['server', 'status'] as const, registers: r }),
    mcpCallDuration: new Histogram({
      name: 'spool_mcp_call_duration_seconds',
      help: 'MCP tool calls, by server.',
      labelNames: ['server'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: r,
    }),
    queueJobs: new Gauge({ name: 'spool_queue_jobs', help: 'Jobs per queue and state.', labelNames: ['queue', 'state'] as const, registers: r }),
    sseStreams: new Gauge({ name: 'spool_sse_streams', help: 'Open SSE readers in this process.', registers: r }),
    approvalsPending: new Gauge({ name: 'spool_approvals_pending', help: 'Parked MCP approval requests not yet answered (all processes).', registers: r }),
    webhookDeliveries: new Counter({ name: 'spool_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome.', labelNames: ['status'] as const, registers: r }),
    rateLimited: new Counter({ name: 'spool_rate_limited_total', help: 'Requests refused by a per-key limit, by key name.', labelNames: ['key_name'] as const, registers: r }),
    admissionRejected: new Counter({ name: 'spool_admission_rejected_total', help: 'Requests refused because the turn queue is past limits.max_queue_depth.', registers: r }),
  };
  const statuses = ['completed', 'failed', 'incomplete', 'cancelled'];
  const models = [...new Set([...(init.models ?? []), 'default'])];
  for (const status of statuses) {
    m.responseDuration.zero({ status });
    for (const model of models) m.responses.inc({ status, model }, 0);
  }
  for (const outcome of ['finished', 'waiting', 'closed', 'error']) m.turnDuration.zero({ outcome });
  for (const route of models) {
    m.upstreamDuration.zero({ route });
    m.timeToFirstToken.zero({ route });
  }
  for (const server of [...(init.mcpServers ?? []), 'request']) {
    m.mcpCallDuration.zero({ server });
    for (const status of ['ok', 'error', 'refused']) m.mcpCalls.inc({ server, status }, 0);
  }
  for (const status of ['delivered', 'failed', 'dead']) m.webhookDeliveries.inc({ status }, 0);
  for (const key_name of init.keyNames ?? []) m.rateLimited.inc({ key_name }, 0);
  m.admissionRejected.inc(0);
  m.sseStreams.set(0);
  m.approvalsPending.set(0);
  return m;
}
export type Metrics = ReturnType<typeof createMetrics>;

/** The label of a model: the configured route pattern that serves it, `default`, or `unrouted`. */
export function modelLabel(config: Pick<Config, 'models' | 'defaultUpstream'>, model: string): string {
  const route = routeFor(config, model);
  if (!route) return 'unrouted';
  return route.pattern === '*' && !config.models.includes(route) ? 'default' : route.pattern;
}
