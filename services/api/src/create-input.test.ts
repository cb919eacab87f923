import { describe, expect, it } from 'vitest';
import { ApiError } from '@spool/protocol';
import type { ResponseRecord } from '@spool/redis';
import { checkBounds, checkCallOutputs, checkModelName, normalizeInput } from './create-input.ts';

const limits = { max_input_items: 2, max_tools: 1, max_instructions_chars: 5, max_model_length: 8 };

function paramOf(fn: () => void): string | null {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.param;
    throw err;
  }
  return 'none';
}

describe('create input checks', () => {
  it('gives every item an id and a string input one user message', () => {
    const [m] = normalizeInput('hi');
    expect(m).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] });
    expect(normalizeInput([{ type: 'function_call_output', call_id: 'c', output: 'x' }])[0]?.id).toMatch(/^fco_/);
  });

  it('names the parameter over its bound', () => {
    expect(paramOf(() => checkModelName('m'.repeat(9), limits))).toBe('model');
    expect(
      paramOf(() =>
        checkBounds(
          { model: 'm' },
          normalizeInput([
            { type: 'message', role: 'user', content: 'a' },
            { type: 'message', role: 'user', content: 'b' },
            { type: 'message', role: 'user', content: 'c' },
          ]),
          limits,
        ),
      ),
    ).toBe('input');
    expect(paramOf(() => checkBounds({ model: 'm', instructions: 'too long' }, [], limits))).toBe('instructions');
    expect(paramOf(() => checkBounds({ model: 'm' }, [], limits))).toBe('none');
  });

  it('accepts an output for a call of the chain or the input, and names the one that answers nothing', () => {
    const chain = [{ input: '[]', snapshot: { output: [{ type: 'function_call', call_id: 'old', name: 'f', arguments: '{}', id: 'fc_1', status: 'completed' }] } }] as unknown as ResponseRecord[];
    const input = normalizeInput([
      { type: 'function_call_output', call_id: 'old', output: 'x' },
      { type: 'function_call', call_id: 'new', name: 'f', arguments: '{}' },
      { type: 'function_call_output', call_id: 'new', output: 'y' },
    ]);
    expect(paramOf(() => checkCallOutputs(chain, input))).toBe('none');
    expect(paramOf(() => checkCallOutputs([], input))).toBe('input[0].call_id');
  });
});
