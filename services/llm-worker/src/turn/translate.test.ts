import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '@spool/protocol';
import { completionAsChunk, TurnTranslator, type McpToolRef } from './translate.ts';

/** Runs chunks through a translator; returns the finished items (ids masked) and the turn result. */
function translate(chunks: ChatCompletionChunk[], classify: (name: string) => McpToolRef | null = () => null) {
  const events: EventDraft[] = [];
  const t = new TurnTranslator(
    (e) => events.push(e),
    () => 0,
    classify,
  );
  for (const c of chunks) t.onChunk(c);
  const result = t.finish();
  const done = events.flatMap((e) => (e.type === 'response.output_item.done' ? [{ ...e.item, id: 'x' }] : []));
  return { done, result, text: events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])) };
}

const chunk = (delta: ChatCompletionChunk.Choice['delta'], finish: ChatCompletionChunk.Choice['finish_reason'] = null, usage?: ChatCompletionChunk['usage']): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});

const usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };

describe('completionAsChunk', () => {
  it('gives the same items and result as the same answer streamed', () => {
    const streamed = [
      chunk({ role: 'assistant', content: 'Hello ' }),
      chunk({ content: 'world' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'srv__echo', arguments: '{}' } }] }),
      chunk({}, 'tool_calls', usage),
    ];
    const whole: ChatCompletion = {
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          logprobs: null,
          message: {
            role: 'assistant',
            content: 'Hello world',
            refusal: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'srv__echo', arguments: '{}' } },
            ],
          },
        },
      ],
      usage,
    };
    const classify = (name: string) => (name === 'srv__echo' ? { serverLabel: 'srv', toolName: 'echo' } : null);
    const a = translate(streamed, classify);
    const b = translate([completionAsChunk(whole)], classify);
    expect(b.done).toEqual(a.done);
    expect(b.result.finishReason).toBe('tool_calls');
    expect(b.result.usage).toEqual(usage);
    expect(b.result.functionCalls.map((c) => c.call_id)).toEqual(['call_1']);
    expect(b.result.mcpCalls.map((c) => c.name)).toEqual(['echo']);
    expect(b.text).toEqual(['Hello world']);
  });

  it('carries a truncated answer and an empty one', () => {
    const base = { id: 'c', object: 'chat.completion' as const, created: 1, model: 'm' };
    const cut = translate([completionAsChunk({ ...base, choices: [{ index: 0, finish_reason: 'length', logprobs: null, message: { role: 'assistant', content: 'w1 w2', refusal: null } }] })]);
    expect(cut.result.finishReason).toBe('length');
    expect(cut.done[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    const empty = translate([completionAsChunk({ ...base, choices: [{ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant', content: null, refusal: null } }] })]);
    expect(empty.done).toEqual([]);
    expect(empty.result.usage).toBeNull();
  });
});

describe('reasoning and logprobs', () => {
  const withReasoning = (field: string, text: string) => chunk({ [field]: text } as unknown as ChatCompletionChunk.Choice['delta']);

  it('puts upstream reasoning in a reasoning item before the message, and estimates reasoning tokens the upstream did not count', () => {
    const { done, result } = translate([
      withReasoning('reasoning_content', 'Think '),
      withReasoning('reasoning_content', 'hard'),
      chunk({ content: 'Answer' }),
      chunk({}, 'stop', { prompt_tokens: 3, completion_tokens: 40, total_tokens: 43 }),
    ]);
    expect(done.map((i) => i.type)).toEqual(['reasoning', 'message']);
    expect(done[0]).toMatchObject({ status: 'completed', content: [{ type: 'reasoning_text', text: 'Think hard' }], summary: [] });
    expect(result.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
    expect(result.usage?.completion_tokens_details?.reasoning_tokens).toBeLessThanOrEqual(40);
  });

  it("keeps the upstream's own reasoning token count", () => {
    const { result } = translate([
      withReasoning('reasoning', 'Hmm'),
      chunk({ content: 'x' }),
      chunk({}, 'stop', { prompt_tokens: 1, completion_tokens: 9, total_tokens: 10, completion_tokens_details: { reasoning_tokens: 7 } }),
    ]);
    expect(result.usage?.completion_tokens_details?.reasoning_tokens).toBe(7);
  });

  it('reads one of reasoning / reasoning_details when an upstream sends both', () => {
    const both = chunk({ reasoning: 'once', reasoning_details: [{ type: 'reasoning.text', text: 'once' }] } as unknown as ChatCompletionChunk.Choice['delta']);
    const { done } = translate([both, chunk({ content: 'x' }), chunk({}, 'stop')]);
    expect(done[0]).toMatchObject({ content: [{ text: 'once' }] });
  });

  it('carries logprobs onto the output text only when asked for', () => {
    const lp = { content: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }] }], refusal: null };
    const withLogprobs: ChatCompletionChunk = { ...chunk({ content: 'Hi' }), choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null, logprobs: lp }] };
    const events: EventDraft[] = [];
    const t = new TurnTranslator(
      (e) => events.push(e),
      () => 0,
      () => null,
      { logprobs: true },
    );
    t.onChunk(withLogprobs);
    t.finish();
    expect(events.find((e) => e.type === 'response.output_text.done')).toMatchObject({ logprobs: [{ token: 'Hi', logprob: -0.5 }] });
    const plain = translate([withLogprobs, chunk({}, 'stop')]);
    expect(plain.done[0]).toMatchObject({ content: [{ logprobs: [] }] });
  });
});
