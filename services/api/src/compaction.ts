import type { InputItem, Response } from '@spool/protocol';

/*
 * Compaction (`POST /v1/responses/compact`, `context_management` on create): the routed model
 * writes a summary of a context in an ordinary turn job, Spool seals it (runtime/compaction), and
 * the sealed summary stands for that context when a later request passes it back.
 */

/** The request that closes the context to compact: what a model needs to write a useful summary. */
export const COMPACTION_PROMPT =
  'Summarize the conversation above so that it can continue from the summary alone: keep every fact, name, number, decision, ' +
  'open question and instruction the user gave, and the state of any task in progress. Reply with the summary only.';

/**
 * Tokens of a context, estimated: about four characters per token over the items' JSON (and the
 * instructions). The same rule for every route: it errs high for markup-heavy items, so a
 * threshold is reached a little early rather than late.
 */
export function estimateTokens(instructions: string | null | undefined, items: ReadonlyArray<unknown>): number {
  let chars = instructions?.length ?? 0;
  for (const item of items) chars += JSON.stringify(item).length;
  return Math.ceil(chars / 4);
}

/**
 * Splits a request's input into what is compacted and what stays: the trailing user messages (the
 * new question) stay as they are, after the compaction item; everything before them is compacted.
 */
export function splitTail(input: InputItem[]): { head: InputItem[]; tail: InputItem[] } {
  let start = input.length;
  while (start > 0) {
    const item = input[start - 1];
    if (item?.type !== 'message' || item.role !== 'user') break;
    start -= 1;
  }
  return { head: input.slice(0, start), tail: input.slice(start) };
}

/** The text the model answered with: the summary. */
export function summaryOf(response: Response): string {
  return response.output
    .flatMap((item) => (item.type === 'message' ? item.content : []))
    .map((part) => (part.type === 'output_text' ? part.text : ''))
    .join('');
}
