import { describe, expect, it } from 'vitest';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { estimateTokens, fitContext } from './truncate.ts';

const user = (text: string): ChatCompletionMessageParam => ({ role: 'user', content: text });

describe('fitContext', () => {
  it('keeps everything that fits', () => {
    const msgs = [user('a'), user('b')];
    expect(fitContext(msgs, { contextWindow: 1000, reserved: 0, tools: [] })).toBe(msgs);
  });

  it('drops the oldest messages, never the instructions or the last message', () => {
    const system: ChatCompletionMessageParam = { role: 'system', content: 'be brief' };
    const msgs = [system, user('x'.repeat(400)), { role: 'assistant', content: 'y'.repeat(400) } as ChatCompletionMessageParam, user('now')];
    const window = estimateTokens(system) + estimateTokens(msgs[2]) + estimateTokens(msgs[3]) + 10;
    expect(fitContext(msgs, { contextWindow: window, reserved: 0, tools: [] })).toEqual([system, msgs[2], msgs[3]]);
    expect(fitContext(msgs, { contextWindow: 10, reserved: 0, tools: [] })).toEqual([system, msgs[3]]);
  });

  it('drops tool results together with the call they answer', () => {
    const call: ChatCompletionMessageParam = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    const result: ChatCompletionMessageParam = { role: 'tool', tool_call_id: 'c1', content: 'z'.repeat(800) };
    const msgs = [user('q'), call, result, user('next')];
    const out = fitContext(msgs, { contextWindow: estimateTokens(msgs[3]) + 5, reserved: 0, tools: [] });
    expect(out).toEqual([msgs[3]]);
  });
});
