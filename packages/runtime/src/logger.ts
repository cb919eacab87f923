import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Services log; packages never do. Prompts, outputs, instructions, headers and key-shaped values
 * are redacted wherever they appear in a log object.
 */
export const REDACT_PATHS = [
  'input',
  'output',
  'instructions',
  'headers',
  'authorization',
  'api_key',
  'apiKey',
  '*.input',
  '*.output',
  '*.instructions',
  '*.headers',
  '*.authorization',
  '*.api_key',
  '*.apiKey',
  'req.headers.authorization',
  'req.headers["x-litellm-api-key"]',
  'req.headers["api-key"]',
];

interface LoggedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: LoggedError;
}

/**
 * What a log keeps of an error: its name, message, code and stack, and the same of its cause.
 * Nothing else: ioredis' ReplyError carries the failed command with its arguments (a record's
 * snapshot, so the prompt), BullMQ's errors carry job data, the SDK's carry request bodies, and
 * pino's default serializer would copy every one of those fields into the log.
 */
function serializeError(err: unknown, depth = 0): LoggedError | unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? err : err === undefined ? undefined : String(err);
  const out: LoggedError = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.stack) out.stack = err.stack;
  if (err.cause !== undefined && depth < 3) out.cause = serializeError(err.cause, depth + 1) as LoggedError;
  return out;
}

export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
    base: { service: 'spool', ...bindings },
  };
  return destination ? pino(options, destination) : pino(options);
}
