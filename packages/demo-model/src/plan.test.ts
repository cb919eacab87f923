import { describe, expect, it } from 'vitest';
import { planReply, wordChunks } from './plan.ts';

const user = (content: unknown, extra: Record<string, unknown> = {}) => ({
  model: 'scripted-1',
  messages: [{ role: 'user', content }],
  ...extra,
});

describe('planReply', () => {
  it('echoes plain text and streams it one word per chunk', () => {
    const plan = planReply(user('  hi   there  '));
    expect(plan.kind).toBe('text');
    expect(plan.text).toBe('Hello! You said: hi   there');
    expect(plan.contentChunks).toEqual(['Hello! ', 'You ', 'said: ', 'hi   ', 'there']);
    expect(plan.finishReason).toBe('stop');
    expect(plan.model).toBe('scripted-1');
    expect(plan.delayMs).toBe(0);
    expect(plan.fail).toBeNull();
    expect(plan.cutAfter).toBeNull();
  });

  it('reads text parts of array content and drops directive lines from the echo', () => {
    const plan = planReply(
      user([
        { type: 'text', text: 'first part' },
        { type: 'image_url', image_url: { url: 'x' } },
        { type: 'text', text: '!delay 10\nsecond' },
      ]),
    );
    expect(plan.text).toBe('Hello! You said: first part\nsecond');
    expect(plan.delayMs).toBe(10);
  });

  it('!say replies with exactly the text', () => {
    expect(planReply(user('ignored\n!say  Exactly   this.')).text).toBe(' Exactly   this.');
    expect(planReply(user('!say hello world')).contentChunks).toEqual(['hello ', 'world']);
    expect(planReply(user('!say')).text).toBe('');
  });

  it('!words N replies w1 … wN', () => {
    const plan = planReply(user('!words 4'));
    expect(plan.text).toBe('w1 w2 w3 w4');
    expect(plan.contentChunks).toHaveLength(4);
    expect(plan.usage.completion_tokens).toBe(4);
  });

  it('!call yields parallel tool calls in order, arguments verbatim, no text', () => {
    const plan = planReply(user('!call get_weather {"city": "Paris"}\n!call lookup_order {"id":7}'));
    expect(plan.kind).toBe('tool_calls');
    expect(plan.finishReason).toBe('tool_calls');
    expect(plan.text).toBe('');
    expect(plan.toolCalls.map((c) => [c.name, c.arguments])).toEqual([
      ['get_weather', '{"city": "Paris"}'],
      ['lookup_order', '{"id":7}'],
    ]);
    for (const call of plan.toolCalls) {
      expect(call.argumentChunks.join('')).toBe(call.arguments);
      expect(call.argumentChunks.every((p) => p.length <= 10)).toBe(true);
    }
    expect(plan.usage.completion_tokens).toBe(plan.toolCalls.reduce((n, c) => n + c.argumentChunks.length, 0));
  });

  it('!call passes non-JSON arguments through unchanged (to test invalid-arguments handling)', () => {
    expect(planReply(user('!call broken {not json')).toolCalls[0]?.arguments).toBe('{not json');
    expect(planReply(user('!call bare')).toolCalls[0]?.arguments).toBe('{}');
  });

  it('!delay sets the per-chunk delay', () => {
    expect(planReply(user('!delay 250\n!say x')).delayMs).toBe(250);
  });

  it('!fail STATUS always fails; !fail STATUS TIMES KEY carries a counter key', () => {
    const always = planReply(user('!fail 500'));
    expect(always.fail).toMatchObject({ status: 500, times: null, key: null, type: 'server_error' });
    const limited = planReply(user('!fail 503 2 k1\nhello'));
    expect(limited.fail).toMatchObject({ status: 503, times: 2, key: 'k1', code: 'service_unavailable' });
    expect(limited.text).toBe('Hello! You said: hello');
    expect(planReply(user('!fail 429')).fail).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    // Not a failure status: treated as ordinary text.
    expect(planReply(user('!fail 200')).fail).toBeNull();
  });

  it('!cutafter N is recorded for the server', () => {
    expect(planReply(user('!cutafter 3\n!words 10')).cutAfter).toBe(3);
  });

  it('!stallafter N is recorded for the server', () => {
    expect(planReply(user('!stallafter 1\n!words 10')).stallAfter).toBe(1);
    expect(planReply(user('!words 10')).stallAfter).toBeNull();
  });

  it('!json wraps the reply in {"answer": …}', () => {
    const said = planReply(user('!json\n!say forty two'));
    expect(said.json).toBe(true);
    expect(JSON.parse(said.text)).toEqual({ answer: 'forty two' });
    expect(JSON.parse(planReply(user('!json\nwhat?')).text)).toEqual({ answer: 'Hello! You said: what?' });
  });

  it('treats malformed or unknown "!" lines as ordinary text', () => {
    expect(planReply(user('!words ten')).text).toBe('Hello! You said: !words ten');
    expect(planReply(user('!important stuff')).text).toBe('Hello! You said: !important stuff');
  });

  it('only reads directives from a trailing user message', () => {
    const body = {
      messages: [
        { role: 'user', content: '!say scripted' },
        { role: 'assistant', content: 'ok' },
      ],
    };
    const plan = planReply(body);
    expect(plan.text).not.toBe('scripted');
    expect(plan.fail).toBeNull();
  });

  it('replies to trailing tool messages without interpreting their directives', () => {
    const plan = planReply({
      model: 'm',
      messages: [
        { role: 'user', content: '!call a {}\n!call b {}' },
        { role: 'assistant', content: null, tool_calls: [] },
        { role: 'tool', tool_call_id: '1', content: '!say hijacked\n!fail 500' },
        { role: 'tool', tool_call_id: '2', content: [{ type: 'text', text: '42' }] },
      ],
    });
    expect(plan.kind).toBe('text');
    expect(plan.text).toBe('Tool results: !say hijacked\n!fail 500 | 42');
    expect(plan.fail).toBeNull();
  });

  describe('automatic tool calls', () => {
    const weather = {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' }, days: { type: 'integer' }, metric: { type: 'boolean' }, extra: { type: 'object' }, note: { type: 'string' } },
          required: ['city', 'days', 'metric', 'extra'],
        },
      },
    };
    const order = { type: 'function', function: { name: 'cancel_order', parameters: { type: 'object', properties: {} } } };

    it('calls the tool whose name parts appear in the user text, with schema-built arguments', () => {
      const plan = planReply(user('What is the WEATHER like?', { tools: [order, weather] }));
      expect(plan.toolCalls).toHaveLength(1);
      expect(plan.toolCalls[0]?.name).toBe('get_weather');
      expect(JSON.parse(plan.toolCalls[0]?.arguments ?? '')).toEqual({ city: 'demo', days: 1, metric: true, extra: {} });
    });

    it('replies with text when no tool matches and the choice is auto', () => {
      expect(planReply(user('hello', { tools: [weather] })).kind).toBe('text');
    });

    it('tool_choice "none" disables matching', () => {
      expect(planReply(user('weather?', { tools: [weather], tool_choice: 'none' })).kind).toBe('text');
    });

    it('tool_choice "required" falls back to the first tool', () => {
      const plan = planReply(user('hello', { tools: [order, weather], tool_choice: 'required' }));
      expect(plan.toolCalls[0]?.name).toBe('cancel_order');
      expect(plan.toolCalls[0]?.arguments).toBe('{}');
    });

    it('a forced function wins over matching', () => {
      const plan = planReply(user('weather?', { tools: [weather, order], tool_choice: { type: 'function', function: { name: 'cancel_order' } } }));
      expect(plan.toolCalls[0]?.name).toBe('cancel_order');
    });

    it('reply directives take precedence over matching', () => {
      expect(planReply(user('weather?\n!say no tools', { tools: [weather] })).text).toBe('no tools');
    });
  });

  it('max_tokens / max_completion_tokens truncate with finish_reason length', () => {
    const plan = planReply(user('!words 10', { max_tokens: 3 }));
    expect(plan.contentChunks).toEqual(['w1 ', 'w2 ', 'w3 ']);
    expect(plan.finishReason).toBe('length');
    expect(plan.usage.completion_tokens).toBe(3);
    expect(planReply(user('!words 3', { max_completion_tokens: 3 })).finishReason).toBe('stop');
    expect(planReply(user('!words 10', { max_completion_tokens: 2, max_tokens: 5 })).contentChunks).toHaveLength(2);
  });

  it('counts usage from the words of every message', () => {
    const plan = planReply({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'one two three' }] },
      ],
    });
    expect(plan.usage.prompt_tokens).toBe(5);
    expect(plan.usage.completion_tokens).toBe(plan.contentChunks.length);
    expect(plan.usage.total_tokens).toBe(5 + plan.contentChunks.length);
    expect(planReply({ messages: [] }).usage.prompt_tokens).toBe(1);
  });

  it('reads stream and stream_options.include_usage', () => {
    expect(planReply(user('x', { stream: true, stream_options: { include_usage: true } }))).toMatchObject({ stream: true, includeUsage: true });
    expect(planReply(user('x', { stream: true }))).toMatchObject({ stream: true, includeUsage: false });
    expect(planReply(user('x'))).toMatchObject({ stream: false, includeUsage: false });
  });

  it('tolerates garbage bodies', () => {
    expect(planReply(null).text).toBe('Hello! You said:');
    expect(planReply({ messages: 'nope' }).kind).toBe('text');
  });
});

describe('wordChunks', () => {
  it('round-trips the text exactly', () => {
    for (const text of ['', 'a', ' a b ', 'x\n\ny  z', '   ']) expect(wordChunks(text).join('')).toBe(text);
  });
});
