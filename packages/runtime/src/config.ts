import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES, WebhookEventTypeSchema } from '@spool/protocol';

export const ROLES = ['api', 'llm', 'mcp'] as const;
export type Role = (typeof ROLES)[number];

const boolFromEnv = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** Every environment variable Spool reads. Nothing outside this module reads process.env. */
export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().url().optional(),
  SPOOL_PREFIX: z.string().regex(/^[^\s{}]*$/, 'no spaces or braces').default('spool:'),
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
  OPENAI_API_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const ModelRouteSchema = z
  .object({
    name: z.string().min(1),
    base_url: z.string().url(),
    api_key: z.string().optional(),
    api_key_env: z.string().optional(),
    upstream_model: z.string().optional(),
    /** Older OpenAI-compatible servers only know `max_tokens`. */
    max_tokens_param: z.enum(['max_tokens', 'max_completion_tokens']).default('max_completion_tokens'),
  })
  .strict();

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
    task_timeout_ms: z.number().int().min(1000).default(6 * 3600_000),
  })
  .strict()
  .refine((s) => Boolean(s.url) !== Boolean(s.command), 'give either url or command')
  .refine((s) => !(s.oauth && s.command), 'oauth applies to url servers only');
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

export const WebhookConfigSchema = z
  .object({
    url: z.string().url(),
    /** Standard Webhooks: `whsec_` + base64 of the key; a short key makes signatures guessable. */
    secret: z
      .string()
      .regex(/^whsec_/, "must be in the 'whsec_…' form")
      .refine((s) => Buffer.from(s.slice(6), 'base64').length >= 24, 'the key after whsec_ must decode (base64) to at least 24 bytes (openssl rand -base64 32)'),
    events: z
      .array(WebhookEventTypeSchema)
      .default([...WEBHOOK_EVENT_TYPES]),
  })
  .strict();

export const LimitsSchema = z
  .object({
    max_turns: z.number().int().min(1).default(16),
    max_body_bytes: z.number().int().min(1024).default(20 * 1024 * 1024),
    max_input_items: z.number().int().min(1).default(2000),
    max_tools: z.number().int().min(1).default(128),
    max_chain_depth: z.number().int().min(1).default(256),
    retention_seconds: z.number().int().min(1).default(30 * 24 * 3600),
    /** `store: false` responses live only as long as a background poll needs them. */
    ephemeral_retention_seconds: z.number().int().min(10).default(600),
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
    sse_max_buffered_bytes: z.number().int().min(1024).default(8 * 1024 * 1024),
    /** On SIGTERM: how long workers may finish the jobs in hand before handing them back. */
    shutdown_grace_ms: z.number().int().min(0).default(20_000),
    /** Webhook tries and the first backoff (doubling): by default nine tries over about 8.5 minutes. */
    webhook_attempts: z.number().int().min(1).default(9),
    webhook_backoff_ms: z.number().int().min(10).default(1000),
    /** JSON nesting of a request body (the body is level 1): deeper is a 400 before anything walks it. */
    max_json_depth: z.number().int().min(8).max(1000).default(64),
    /** Characters of `instructions` (and of Chat Completions system messages taken as instructions). */
    max_instructions_chars: z.number().int().min(1).default(1024 * 1024),
    /** Bytes of one MCP tool result (its text as the model sees it); larger is a failed `mcp_call`. */
    max_mcp_result_bytes: z.number().int().min(1024).default(1024 * 1024),
    /**
     * At most one `response.mcp_call.in_progress` event per call this often, however often the MCP
     * server reports progress: enough for a client to see a long call alive, little for the event log.
     */
    mcp_progress_interval_ms: z.number().int().min(50).default(1000),
  })
  .strict();

export const FileSchema = z
  .object({
    api_keys: z.array(z.string().min(1)).default([]),
    models: z.array(ModelRouteSchema).default([]),
    mcp_servers: z.record(z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/), McpServerConfigSchema).default({}),
    mcp: z.object({ allow_hosts: z.array(z.string()).default([]) }).strict().default({ allow_hosts: [] }),
    webhooks: z.array(WebhookConfigSchema).default([]),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    /** Origins whose pages may call Spool from a browser (CORS); `*` for any. Empty: none. */
    cors: z.object({ allow_origins: z.array(z.string().min(1)).default([]) }).strict().default({ allow_origins: [] }),
    /**
     * Spool's records expire by TTL and must never be evicted early: it refuses to start on a Redis
     * whose `maxmemory-policy` evicts keys, unless told that the operator accepts losing them.
     */
    redis: z.object({ allow_eviction: z.boolean().default(false) }).strict().default({ allow_eviction: false }),
  })
  .strict();

export interface UpstreamRoute {
  /** Exact model name or a glob (`*`, `?`). */
  pattern: string;
  baseUrl: string;
  apiKey: string;
  upstreamModel: string | null;
  maxTokensParam: 'max_tokens' | 'max_completion_tokens';
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
export function loadConfig(env: Record<string, string | undefined>, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): Config {
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
    models.push({ pattern: m.name, baseUrl: m.base_url, apiKey: apiKey ?? 'none', upstreamModel: m.upstream_model ?? null, maxTokensParam: m.max_tokens_param });
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

  const upstreamKey = e.UPSTREAM_API_KEY ?? e.OPENAI_API_KEY;
  const useDemo = e.SPOOL_DEMO_MODEL ?? (!e.UPSTREAM_BASE_URL && !upstreamKey);
  const defaultUpstream = useDemo
    ? null
    : { baseUrl: e.UPSTREAM_BASE_URL ?? 'https://api.openai.com/v1', apiKey: upstreamKey ?? 'none', maxTokensParam: 'max_completion_tokens' as const };

  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL ?? null,
    prefix: e.SPOOL_PREFIX,
    roles: new Set(e.SPOOL_ROLES),
    apiKeys: e.SPOOL_API_KEYS ?? file.api_keys,
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
  };
}

/** Matches a model name against a route pattern: exact, or a glob with `*` and `?`. */
export function matchesModel(pattern: string, model: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === model;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(model);
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
