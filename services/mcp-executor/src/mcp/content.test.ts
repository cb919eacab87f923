import { describe, expect, it } from 'vitest';
import { resultText } from './content.ts';

describe('resultText: a tools/call result as the text the model reads', () => {
  it('keeps text as it is and writes resource links and embedded resources out', () => {
    expect(
      resultText(
        [
          { type: 'text', text: 'a' },
          { type: 'resource_link', uri: 'https://x.example/r/1', name: 'r1', title: 'Report one', mimeType: 'text/html', description: 'the first' },
          { type: 'resource_link', uri: 'file:///b', name: 'b' },
          { type: 'resource', resource: { uri: 'file:///n.txt', mimeType: 'text/plain', text: 'line 1\nline 2' } },
          { type: 'resource', resource: { uri: 'file:///x.bin', blob: 'AAAA' } },
        ],
        undefined,
      ),
    ).toBe(
      [
        'a',
        '[resource_link https://x.example/r/1] Report one (text/html): the first',
        '[resource_link file:///b] b',
        '[resource file:///n.txt] (text/plain)\nline 1\nline 2',
        '[resource file:///x.bin] 3 bytes of binary content, not shown',
      ].join('\n'),
    );
  });

  it('names images and audio instead of pasting their base64, and keeps unknown blocks as JSON', () => {
    expect(
      resultText(
        [
          { type: 'image', data: 'AAAAAA==', mimeType: 'image/png' },
          { type: 'audio', data: 'AAAA' },
          { type: 'widget', x: 1 },
        ],
        undefined,
      ),
    ).toBe('[image (image/png) 4 bytes, not shown]\n[audio 3 bytes, not shown]\n{"type":"widget","x":1}');
  });

  it('adds structuredContent unless a text block already is its JSON, and gives it alone when there is no content', () => {
    expect(resultText([{ type: 'text', text: 'ok' }], { a: 1 })).toBe('ok\n[structuredContent] {"a":1}');
    expect(resultText([{ type: 'text', text: '{ "a": 1 }' }], { a: 1 })).toBe('{ "a": 1 }');
    expect(resultText([], { a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(resultText([{ type: 'text', text: 'ok' }], null)).toBe('ok');
  });
});
