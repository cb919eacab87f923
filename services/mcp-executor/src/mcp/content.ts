import { isDeepStrictEqual } from 'node:util';

/**
 * OpenAI's `mcp_call.output` is one string, so a `tools/call` result is written out in a textual form
 * the model can read (documented in the README, "Which MCP features Spool supports"), one block per line:
 *
 * - `text`: the text as it is.
 * - `resource_link`: `[resource_link <uri>] <name>`, then ` (<mimeType>)` and `: <description>` when given.
 * - `resource` (embedded): `[resource <uri>] (<mimeType>)` and its text on the next lines; a binary
 *   one as `[resource <uri>] (<mimeType>) <n> bytes of binary content, not shown`.
 * - `image` / `audio`: `[image (<mimeType>) <n> bytes, not shown]`: base64 means nothing to a model
 *   and would only fill its context.
 * - any other block: its JSON.
 * - `structuredContent`: alone, its JSON. Beside content blocks, `[structuredContent] <JSON>` is added,
 *   unless a text block already is that JSON (what the MCP spec asks servers to send for older clients).
 */
export function resultText(content: readonly unknown[], structured: unknown): string {
  const parts = content.map(blockText);
  if (structured !== undefined && structured !== null) {
    const json = JSON.stringify(structured);
    if (parts.length === 0) return json;
    const repeated = content.some((b) => isRecord(b) && b.type === 'text' && typeof b.text === 'string' && parsesTo(b.text, structured));
    if (!repeated) parts.push(`[structuredContent] ${json}`);
  }
  return parts.join('\n');
}

function blockText(block: unknown): string {
  if (!isRecord(block)) return JSON.stringify(block);
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  switch (block.type) {
    case 'text':
      if (typeof block.text === 'string') return block.text;
      break;
    case 'resource_link': {
      const uri = str(block.uri);
      if (!uri) break;
      const mime = str(block.mimeType);
      const description = str(block.description);
      return `[resource_link ${uri}] ${str(block.title) ?? str(block.name) ?? ''}${mime ? ` (${mime})` : ''}${description ? `: ${description}` : ''}`;
    }
    case 'resource': {
      const r = block.resource;
      if (!isRecord(r) || !str(r.uri)) break;
      const head = `[resource ${str(r.uri)}]${str(r.mimeType) ? ` (${str(r.mimeType)})` : ''}`;
      if (typeof r.text === 'string') return `${head}\n${r.text}`;
      if (typeof r.blob === 'string') return `${head} ${base64Bytes(r.blob)} bytes of binary content, not shown`;
      break;
    }
    case 'image':
    case 'audio':
      if (typeof block.data === 'string') return `[${block.type}${str(block.mimeType) ? ` (${str(block.mimeType)})` : ''} ${base64Bytes(block.data)} bytes, not shown]`;
      break;
    default:
      break;
  }
  return JSON.stringify(block);
}

function parsesTo(text: string, value: unknown): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(text), value);
  } catch {
    return false;
  }
}

function base64Bytes(data: string): number {
  const clean = data.replace(/=+$/, '');
  return Math.floor((clean.length * 3) / 4);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
