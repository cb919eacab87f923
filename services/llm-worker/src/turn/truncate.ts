import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';

/**
 * A token estimate without the model's tokenizer (upstreams differ, and Spool cannot know
 * theirs): 4 bytes of the message's JSON per token, which over-counts English prose and code a
 * little, so a fitted context errs towards fitting.
 */
export function estimateTokens(value: unknown): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(value)) / 4);
}

/**
 * `truncation: "auto"`: drops the oldest conversation messages until the estimate of what is
 * sent (messages, tool definitions and the room kept for the answer) fits `contextWindow`.
 * System messages (instructions) and the last message are kept; a tool result whose call was
 * dropped goes with it, as Chat Completions refuses a `tool` message without its call.
 */
export function fitContext(messages: ChatCompletionMessageParam[], opts: { contextWindow: number; reserved: number; tools: unknown }): ChatCompletionMessageParam[] {
  const budget = opts.contextWindow - opts.reserved - estimateTokens(opts.tools ?? []);
  const sizes = messages.map(estimateTokens);
  let total = sizes.reduce((a, b) => a + b, 0);
  if (total <= budget) return messages;
  const dropped = new Set<number>();
  const last = messages.length - 1;
  const droppable = (i: number) => i < last && messages[i]?.role !== 'system';
  for (let i = 0; i < messages.length && total > budget; i++) {
    if (!droppable(i)) continue;
    dropped.add(i);
    total -= sizes[i] as number;
    // The results of a dropped assistant's tool calls follow it; they cannot stay alone.
    while (i + 1 < last && messages[i + 1]?.role === 'tool') {
      i++;
      dropped.add(i);
      total -= sizes[i] as number;
    }
  }
  const kept = messages.filter((_, i) => !dropped.has(i));
  // A tool result left at the front of the conversation (its call dropped earlier) goes as well.
  return kept.filter((m, i) => !(m.role === 'tool' && !kept.slice(0, i).some((p) => p.role !== 'system')));
}
