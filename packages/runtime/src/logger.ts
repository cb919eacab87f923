import { pino, type Logger } from 'pino';

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

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'spool', ...bindings } });
}
