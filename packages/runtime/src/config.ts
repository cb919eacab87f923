import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HOSTED_TOOL_TYPES, WEBHOOK_EVENT_TYPES, WebhookEventTypeSchema } from '@spool/protocol';
import { globMatch, substituteCaptures } from './glob.ts';

export const ROLES = ['api', 'llm', 'mcp'] as const;
export type Role = (typeof ROLES)[number];

const boolFromEnv = z.enum(['1', '0', 'true', 'false', 'yes', 'no']).transform((v) => v === '1' || v === 'true' || v === 'yes');

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * Worker processes run at nice 10 by default: when the cores are saturated, the kernel gives the
 * api process the CPU first, so accepting (or refusing) a request is not queued behind model turns.
 * On idle cores nice changes nothing. Measured in bench/findings.md (background at twice the rate).
 */
export const DEFAULT_WORKER_NICE = 10;

/** Every environment variable Spool reads. Nothing outside this module reads process.env. */
export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().url().optional(),
  SPOOL_PREFIX: z
    .string()
    .regex(/^[^\s{}]*$/, 'no spaces or braces')
    .default('spool:'),
  SPOOL_ROLES: csv.pipe(z.array(z.enum(ROLES)).min(1)).default([...ROLES]),
  SPOOL_CONFIG: z.string().optional(),
  SPOOL_API_KEYS: csv.optional(),
  SPOOL_ALLOW_UNAUTHENTICATED: boolFromEnv.default(false),
  SPOOL_MCP_ALLOW_HOSTS: csv.optional(),
  SPOOL_CORS_ALLOW_ORIGINS: csv.optional(),
  SPOOL_REDIS_ALLOW_EVICTION: boolFromEnv.optional(),
  SPOOL_DATA_DIR: z.string().default('.data'),
  SPOOL_DEMO_MODEL: boolFromEnv.optional(),
  /** base64 of 32 bytes: seals MCP credentials in job data. Unset: a key kept in Redis is used. */
  SPOOL_SECRET_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  UPSTREAM_BASE_URL: z.string().url().optional(),
  UPSTREAM_API_KEY: z.string().optional(),
  /** The protocol the default upstream speaks: Chat Completions (the default) or the Responses API. */
  UPSTREAM_API: z.enum(['chat', 'responses']).optional(),
  OPENAI_API_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `host:port,...` of Redis Cluster nodes (any few; the rest are discovered). Overrides REDIS_URL. */
  REDIS_CLUSTER_NODES: csv.pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each node as host:port')).min(1)).optional(),
  /** `host:port,...` of Redis Sentinels; with REDIS_SENTINEL_NAME, Spool follows that master's failovers. */
  REDIS_SENTINELS: csv.pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each sentinel as host:port')).min(1)).optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  /** Worker processes `npm start` runs beside the api process; 0: every role in this one process. */
  SPOOL_WORKERS: z.coerce.number().int().min(0).max(256).optional(),
  /** Nice value (scheduling priority) of those worker processes; the api process keeps the parent's. */
  SPOOL_WORKER_NICE: z.coerce.number().int().min(0).max(19).default(DEFAULT_WORKER_NICE),
  /** A process without the api role serves `/metrics` on this port (unset: it serves none). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** A bearer token that may scrape `/metrics` (besides the API and admin keys). */
  SPOOL_METRICS_TOKEN: z.string().min(16).optional(),
  /** Keys for the console, `/v1/usage` and `/metrics` (overrides `admin_keys`). */
  SPOOL_ADMIN_KEYS: csv.optional(),
});

const ModelRouteSchema = z
  .object({
    name: z.string().min(1),
    base_url: z.string().url(),
    api_key: z.string().optional(),
    api_key_env: z.string().optional(),
    upstream_model: z.string().optional(),
    /** Older OpenAI-compatible servers only know `max_tokens`. */
    max_tokens_param: z.enum(['max_tokens', 'max_completion_tokens']).default('max_completion_tokens'),
    /**
     * Responses parameters this upstream does not take (LiteLLM's option): dropped silently for
     * this route instead of forwarded or refused. Names as in the request: `service_tier`,
     * `reasoning.effort`, `text.verbosity`, `top_logprobs`, `include`, `user`, `metadata`, …
     */
    drop_params: z.array(z.string().min(1)).default([]),
    /** The model's context window in tokens: what `truncation: "auto"` fits the context into. */
    context_window: z.number().int().min(1).optional(),
    /**
     * How earlier reasoning goes back to this upstream on later turns: as the assistant message's
     * `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter, Ollama), or not at all.
     */
    reasoning_feedback: z.enum(['none', 'reasoning_content', 'reasoning']).default('none'),
    /** Forward the request's `metadata` (OpenAI's Chat Completions takes it; many servers refuse it). */
    send_metadata: z.boolean().default(false),
    /**
     * The protocol this upstream is called with: `chat` (`/chat/completions`, what every
     * OpenAI-compatible server speaks) or `responses` (`/responses`, native: reasoning items with
     * `encrypted_content`, summaries and hosted tools survive). No `auto`: see the README.
     */
    api: z.enum(['chat', 'responses']).default('chat'),
    /** Hosted tool types passed through to this upstream, whose items Spool relays (web search for now); `api: responses` only. */
    hosted_tools: z.array(z.enum(HOSTED_TOOL_TYPES)).default([]),
  })
  .strict()
  .refine((m) => m.api === 'responses' || m.hosted_tools.length === 0, { message: 'hosted_tools needs api: responses', path: ['hosted_tools'] });

export const McpServerConfigSchema = z
  .object({
    url: z.string().url().optional(),
    transport: z.enum(['auto', 'streamable-http', 'sse', 'stdio']).default('auto'),
    headers: z.record(z.string(), z.string()).default({}),
    command: z.string().optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    description: z.string().optional(),
    allowed_tools: z.array(z.string()).optional(),
    disallowed_tools: z.array(z.string()).default([]),
    require_approval: z.enum(['always', 'never', 'request']).default('request'),
    timeout_ms: z.number().int().min(100).default(300_000),
    /**
     * OAuth 2.1 client credentials: Spool gets (and renews) the access token itself and sends it as
     * `Authorization: Bearer`. The secret is read from the environment variable named here, never the file.
     */
    oauth: z
      .object({ token_url: z.string().url(), client_id: z.string().min(1), client_secret_env: z.string().min(1), scope: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Total time of a call that runs as an MCP task (polled, surviving executor restarts): hours, not minutes. */
    task_timeout_ms: z
      .number()
      .int()
      .min(1000)
      .default(6 * 3600_000),
    /** How long a call parked on an MCP elicitation waits for the user's answer before the tool is told "cancel". */
    elicitation_timeout_ms: z
      .number()
      .int()
      .min(1000)
      .max(24 * 3600_000)
      .default(15 * 60_000),
  })
  .strict()
  .refine((s) => Boolean(s.url) !== Boolean(s.command), 'give either url or command')
  .refine((s) => !(s.oauth && s.command), 'oauth applies to url servers only');
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

const WebhookConfigSchema = z
  .object({
    url: z.string().url(),
    /** Standard Webhooks: `whsec_` + base64 of the key; a short key makes signatures guessable. */
    secret: z
      .string()
      .regex(/^whsec_/, "must be in the 'whsec_…' form")
      .refine((s) => Buffer.from(s.slice(6), 'base64').length >= 24, 'the key after whsec_ must decode (base64) to at least 24 bytes (openssl rand -base64 32)'),
    events: z.array(WebhookEventTypeSchema).default([...WEBHOOK_EVENT_TYPES]),
  })
  .strict();

export const LimitsSchema = z
  .object({
    max_turns: z.number().int().min(1).default(16),
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .default(20 * 1024 * 1024),
    max_input_items: z.number().int().min(1).default(2000),
    max_tools: z.number().int().min(1).default(128),
    max_chain_depth: z.number().int().min(1).default(256),
    retention_seconds: z
      .number()
      .int()
      .min(1)
      .default(30 * 24 * 3600),
    /**
     * `store: false` responses live only as long as a background poll needs them. Counted from the
     * last write (every append refreshes it), so even a short value never cuts a run short.
     */
    ephemeral_retention_seconds: z.number().int().min(1).default(600),
    upstream_max_retries: z.number().int().min(0).default(3),
    upstream_timeout_ms: z.number().int().min(1000).default(600_000),
    llm_concurrency: z.number().int().min(1).default(64),
    mcp_concurrency: z.number().int().min(1).default(64),
    /**
     * How long an MCP server's tool list is reused by later responses with the same server and
     * credentials (0: list on every response, as a server whose tools change by the minute needs).
     */
    mcp_tool_list_cache_seconds: z.number().int().min(0).default(60),
    keepalive_ms: z.number().int().min(100).default(15_000),
    /** A stream whose reader lets this much pile up unsent is dropped (it can resume later). */
    sse_max_buffered_bytes: z
      .number()
      .int()
      .min(1024)
      .default(8 * 1024 * 1024),
    /** On SIGTERM: how long workers may finish the jobs in hand before handing them back. */
    shutdown_grace_ms: z.number().int().min(0).default(20_000),
    /** Webhook tries and the first backoff (doubling): by default nine tries over about 8.5 minutes. */
    webhook_attempts: z.number().int().min(1).default(9),
    webhook_backoff_ms: z.number().int().min(10).default(1000),
    /** JSON nesting of a request body (the body is level 1): deeper is a 400 before anything walks it. */
    max_json_depth: z.number().int().min(8).max(1000).default(64),
    /** Characters of `instructions` (and of Chat Completions system messages taken as instructions). */
    max_instructions_chars: z
      .number()
      .int()
      .min(1)
      .default(1024 * 1024),
    /** Bytes of one MCP tool result (its text as the model sees it); larger is a failed `mcp_call`. */
    max_mcp_result_bytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    /** A streamed upstream body that sends nothing for this long fails the turn (the SDK's timeout covers the headers only). */
    upstream_idle_timeout_ms: z.number().int().min(50).default(120_000),
    /** A synchronous (non-stream, non-background) request waits at most this long, then gets a 504 and its response is cancelled. */
    sync_timeout_ms: z.number().int().min(50).default(600_000),
    /** An append larger than this is announced on pub/sub by a short notice and read from the log (Redis cuts subscribers at 32 MB). */
    max_publish_bytes: z
      .number()
      .int()
      .min(1024)
      .max(8 * 1024 * 1024)
      .default(1024 * 1024),
    /** How often the watchdog looks for responses whose work is gone (one process per interval does it). */
    watchdog_interval_ms: z.number().int().min(50).default(15_000),
    /**
     * A response is first checked this long after it was created, then again each time this long
     * has passed; one found with no live turn job is failed. With the worker's stall detection
     * (about 15 s), a stuck response ends within about stale_after + interval + 15 s.
     */
    watchdog_stale_after_ms: z.number().int().min(100).default(60_000),
    /** Longest `model` a request may name (route globs are matched against it). */
    max_model_length: z.number().int().min(1).default(256),
    /** WebSocket mode: `response.create` messages one connection may hold waiting behind the running one. */
    ws_max_queued: z.number().int().min(0).default(16),
    /** WebSocket mode: a connection with no message and nothing running for this long is closed. */
    ws_idle_ms: z.number().int().min(1000).default(600_000),
    /** WebSocket mode: ping interval; a peer that missed the previous pong is dropped. */
    ws_ping_ms: z.number().int().min(100).default(30_000),
    /** Items one conversation may hold: adding past it is a 400, and so is a response on a full one. */
    max_conversation_items: z.number().int().min(1).default(10_000),
    /** Waiting turn jobs past which new responses are refused with 503 + Retry-After (0: no bound). */
    max_queue_depth: z.number().int().min(0).default(0),
    /**
     * How long a response counts against `max_in_flight` at most: one that is never sealed (it
     * cannot happen by design, but a key must not be locked out for good if it does) stops counting.
     */
    in_flight_ttl_seconds: z.number().int().min(60).default(3600),
    /** Days of per-key usage kept in Redis. */
    usage_retention_days: z.number().int().min(1).max(400).default(90),
    /**
     * At most one `response.mcp_call.in_progress` event per call this often, however often the MCP
     * server reports progress: enough for a client to see a long call alive, little for the event log.
     */
    mcp_progress_interval_ms: z.number().int().min(50).default(1000),
  })
  .strict();

/** `redis.cluster`: the nodes of a Redis Cluster, as REDIS_CLUSTER_NODES (which wins). */
const RedisFileSchema = z
  .object({
    cluster: z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each node as host:port'))
      .min(1)
      .optional(),
    /**
     * Spool's records expire by TTL and must never be evicted early: it refuses to start on a Redis
     * whose `maxmemory-policy` evicts keys, unless told that the operator accepts losing them.
     */
    allow_eviction: z.boolean().default(false),
  })
  .strict();

/** Per-key limits; an unset limit is no limit. */
export const KeyLimitsSchema = z
  .object({
    requests_per_minute: z.number().int().min(1).optional(),
    tokens_per_minute: z.number().int().min(1).optional(),
    tokens_per_day: z.number().int().min(1).optional(),
    max_in_flight: z.number().int().min(1).optional(),
    max_background_in_flight: z.number().int().min(1).optional(),
  })
  .strict();
export type KeyLimits = z.infer<typeof KeyLimitsSchema>;

/** An API key with a name (what metrics, usage and the console show) and limits. */
export const NamedKeySchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
    key: z.string().min(1).optional(),
    key_env: z.string().min(1).optional(),
    limits: KeyLimitsSchema.default({}),
  })
  .strict()
  .refine((k) => Boolean(k.key) !== Boolean(k.key_env), 'give either key or key_env');

/** A configured key, resolved: plain list entries are named `key-1`, `key-2`, … by position. */
export interface ApiKeyEntry {
  name: string;
  key: string;
  limits: KeyLimits;
}

export const FileSchema = z
  .object({
    /** Plain keys, or `{name, key | key_env, limits}` objects (both forms may be mixed). */
    api_keys: z.array(z.union([z.string().min(1), NamedKeySchema])).default([]),
    models: z.array(ModelRouteSchema).default([]),
    mcp_servers: z.record(z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/), McpServerConfigSchema).default({}),
    mcp: z
      .object({ allow_hosts: z.array(z.string()).default([]) })
      .strict()
      .default({ allow_hosts: [] }),
    webhooks: z.array(WebhookConfigSchema).default([]),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    /** Origins whose pages may call Spool from a browser (CORS); `*` for any. Empty: none. */
    cors: z
      .object({ allow_origins: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ allow_origins: [] }),
    redis: RedisFileSchema.default({ allow_eviction: false }),
    /** Keys for the console, `/v1/usage` and `/metrics`; they do not create responses. */
    admin_keys: z.array(z.union([z.string().min(1), NamedKeySchema])).default([]),
    /** A bearer token that may scrape `/metrics`. */
    metrics_token: z.string().min(16).optional(),
  })
  .strict();

export interface UpstreamRoute {
  /** Exact model name or a glob (`*`, `?`). */
  pattern: string;
  baseUrl: string;
  apiKey: string;
  upstreamModel: string | null;
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
  /** Request parameters dropped for this route (see ModelRouteSchema.drop_params). */
  dropParams?: string[];
  contextWindow?: number | null;
  reasoningFeedback?: 'none' | 'reasoning_content' | 'reasoning';
  sendMetadata?: boolean;
  /** The upstream protocol (see ModelRouteSchema.api); absent: chat. */
  api?: 'chat' | 'responses';
  /** Hosted tool types passed through (see ModelRouteSchema.hosted_tools). */
  hostedTools?: string[];
}

export interface Config {
  port: number;
  host: string;
  redisUrl: string | null;
  prefix: string;
  roles: ReadonlySet<Role>;
  apiKeys: string[];
  allowUnauthenticated: boolean;
  /** null: no upstream configured; `npm start` serves the built-in demo model. */
  defaultUpstream: Omit<UpstreamRoute, 'pattern' | 'upstreamModel'> | null;
  models: UpstreamRoute[];
  mcpServers: Record<string, McpServerConfig>;
  mcpAllowHosts: string[];
  /** Client secrets of `mcp_servers.<label>.oauth`, by label, read from their `client_secret_env`. */
  mcpOAuthSecrets: Record<string, string>;
  webhooks: z.infer<typeof WebhookConfigSchema>[];
  limits: z.infer<typeof LimitsSchema>;
  corsAllowOrigins: string[];
  redisAllowEviction: boolean;
  dataDir: string;
  secretKey: string | null;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Redis Cluster seed nodes; null: a single Redis (redisUrl, or the Sentinels' master). */
  redisCluster: Array<{ host: string; port: number }> | null;
  /** Redis Sentinels and the master they watch; null: no Sentinel. */
  redisSentinel: { sentinels: Array<{ host: string; port: number }>; name: string } | null;
  /** Worker processes `npm start` supervises beside the api process (0: one process for all). */
  workers: number;
  /** How much lower the supervised worker processes' scheduling priority is than the api's (nice). */
  workerNice: number;
  /**
   * No upstream at all: the built-in demo model serves every model name. An api-only process
   * needs to know it too, although the llm processes are the ones that run it.
   */
  demoModel: boolean;
  /** Every API key with its name and limits (`apiKeys` lists the same keys). */
  apiKeyEntries: ApiKeyEntry[];
  adminKeys: ApiKeyEntry[];
  metricsToken: string | null;
  metricsPort: number | null;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function issues(where: string, error: z.ZodError): string[] {
  return error.issues.map((i) => `${where}${i.path.length ? ` ${i.path.join('.')}` : ''}: ${i.message}`);
}

/**
 * Reads the environment and the optional YAML file named by SPOOL_CONFIG; the environment
 * overrides the file. Lists every problem at once rather than stopping at the first.
 */
export function loadConfig(rawEnv: Record<string, string | undefined>, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): Config {
  // An empty variable means "unset" everywhere: compose files pass `X: ${X:-}`, and an empty
  // UPSTREAM_API_KEY must not win over OPENAI_API_KEY, nor an empty URL fail validation.
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const problems: string[] = [];
  const envResult = EnvSchema.safeParse(env);
  if (!envResult.success) problems.push(...issues('env', envResult.error));

  let file: z.infer<typeof FileSchema> = FileSchema.parse({});
  if (env.SPOOL_CONFIG) {
    try {
      const raw = parseYaml(readFile(env.SPOOL_CONFIG)) ?? {};
      const fileResult = FileSchema.safeParse(raw);
      if (fileResult.success) file = fileResult.data;
      else problems.push(...issues(env.SPOOL_CONFIG, fileResult.error));
    } catch (err) {
      problems.push(`${env.SPOOL_CONFIG}: ${(err as Error).message}`);
    }
  }
  const models: UpstreamRoute[] = [];
  for (const m of file.models) {
    const apiKey = m.api_key ?? (m.api_key_env ? env[m.api_key_env] : undefined);
    if (m.api_key_env && apiKey === undefined) problems.push(`models ${m.name}: environment variable ${m.api_key_env} is not set`);
    models.push({
      pattern: m.name,
      baseUrl: m.base_url,
      apiKey: apiKey ?? 'none',
      upstreamModel: m.upstream_model ?? null,
      maxTokensParam: m.max_tokens_param,
      dropParams: m.drop_params,
      contextWindow: m.context_window ?? null,
      reasoningFeedback: m.reasoning_feedback,
      sendMetadata: m.send_metadata,
      api: m.api,
      hostedTools: m.hosted_tools,
    });
  }
  const resolveKeys = (where: string, list: Array<string | z.infer<typeof NamedKeySchema>>, prefix: string): ApiKeyEntry[] =>
    list.flatMap((k, i) => {
      if (typeof k === 'string') return [{ name: `${prefix}-${i + 1}`, key: k, limits: {} }];
      const key = k.key ?? (k.key_env ? env[k.key_env] : undefined);
      if (!key) {
        problems.push(`${where} ${k.name}: environment variable ${k.key_env} is not set`);
        return [];
      }
      return [{ name: k.name, key, limits: k.limits }];
    });
  const fileKeys = resolveKeys('api_keys', file.api_keys, 'key');
  const fileAdmins = resolveKeys('admin_keys', file.admin_keys, 'admin');
  for (const list of [fileKeys, fileAdmins]) {
    const names = list.map((k) => k.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) problems.push(`key name '${dup}' is used twice`);
  }
  const mcpOAuthSecrets: Record<string, string> = {};
  for (const [label, server] of Object.entries(file.mcp_servers)) {
    if (!server.oauth) continue;
    const secret = env[server.oauth.client_secret_env];
    if (secret === undefined || secret === '') problems.push(`mcp_servers ${label}.oauth: environment variable ${server.oauth.client_secret_env} is not set`);
    else mcpOAuthSecrets[label] = secret;
  }
  if (!envResult.success || problems.length > 0) throw new ConfigError(problems);
  const e = envResult.data;
  const apiKeyEntries = e.SPOOL_API_KEYS ? e.SPOOL_API_KEYS.map((key, i) => ({ name: `key-${i + 1}`, key, limits: {} })) : fileKeys;
  const adminKeys = e.SPOOL_ADMIN_KEYS ? e.SPOOL_ADMIN_KEYS.map((key, i) => ({ name: `admin-${i + 1}`, key, limits: {} })) : fileAdmins;

  const upstreamKey = e.UPSTREAM_API_KEY ?? e.OPENAI_API_KEY;
  const useDemo = e.SPOOL_DEMO_MODEL ?? (!e.UPSTREAM_BASE_URL && !upstreamKey);
  const defaultUpstream = useDemo
    ? null
    : { baseUrl: e.UPSTREAM_BASE_URL ?? 'https://api.openai.com/v1', apiKey: upstreamKey ?? 'none', maxTokensParam: 'max_completion_tokens' as const, api: e.UPSTREAM_API ?? 'chat' };

  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL ?? null,
    prefix: e.SPOOL_PREFIX,
    roles: new Set(e.SPOOL_ROLES),
    apiKeys: apiKeyEntries.map((k) => k.key),
    allowUnauthenticated: e.SPOOL_ALLOW_UNAUTHENTICATED,
    defaultUpstream,
    models,
    mcpServers: file.mcp_servers,
    mcpAllowHosts: e.SPOOL_MCP_ALLOW_HOSTS ?? file.mcp.allow_hosts,
    mcpOAuthSecrets,
    webhooks: file.webhooks,
    limits: file.limits,
    corsAllowOrigins: e.SPOOL_CORS_ALLOW_ORIGINS ?? file.cors.allow_origins,
    redisAllowEviction: e.SPOOL_REDIS_ALLOW_EVICTION ?? file.redis.allow_eviction,
    dataDir: e.SPOOL_DATA_DIR,
    secretKey: e.SPOOL_SECRET_KEY ?? null,
    logLevel: e.LOG_LEVEL,
    redisCluster: (e.REDIS_CLUSTER_NODES ?? file.redis.cluster)?.map(parseNode) ?? null,
    redisSentinel: e.REDIS_SENTINELS ? { sentinels: e.REDIS_SENTINELS.map(parseNode), name: e.REDIS_SENTINEL_NAME } : null,
    workers: e.SPOOL_WORKERS ?? availableParallelism(),
    workerNice: e.SPOOL_WORKER_NICE,
    demoModel: defaultUpstream === null && models.length === 0,
    apiKeyEntries,
    adminKeys,
    metricsToken: e.SPOOL_METRICS_TOKEN ?? file.metrics_token ?? null,
    metricsPort: e.METRICS_PORT ?? null,
  };
}

function parseNode(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
}

/** Matches a model name against a route pattern: exact, or a glob with `*` and `?` (glob.ts, linear). */
export function matchesModel(pattern: string, model: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === model;
  return globMatch(pattern, model) !== null;
}

/**
 * The model name sent upstream for a request's model on a route: the route's `upstream_model`
 * with `{*}` (what the name's first `*` matched) and `{1}`, `{2}`, … substituted, else the name
 * as the client sent it. `anthropic/*` with `upstream_model: "{*}"` sends
 * `claude-3-5-sonnet-latest` for `anthropic/claude-3-5-sonnet-latest`.
 */
export function upstreamModelFor(route: Pick<UpstreamRoute, 'pattern' | 'upstreamModel'>, model: string): string {
  if (route.upstreamModel === null) return model;
  return substituteCaptures(route.upstreamModel, globMatch(route.pattern, model) ?? []);
}

/** How long a response's keys live: the full retention when stored, else only as long as a poll needs. */
export function retentionSeconds(limits: Pick<Config['limits'], 'retention_seconds' | 'ephemeral_retention_seconds'>, store: boolean): number {
  return store ? limits.retention_seconds : limits.ephemeral_retention_seconds;
}

/**
 * The upstream serving a model: the first configured route that matches, else the default upstream,
 * else none. The API asks it to refuse unknown models; the worker, to call one.
 */
export function routeFor(config: Pick<Config, 'models' | 'defaultUpstream'>, model: string): UpstreamRoute | null {
  const route = config.models.find((r) => matchesModel(r.pattern, model));
  if (route) return route;
  return config.defaultUpstream ? { ...config.defaultUpstream, pattern: '*', upstreamModel: null } : null;
}
