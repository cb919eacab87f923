import { describe, expect, it } from 'vitest';
import { buildResponse, lifecycleEvent, type EventDraft, type OutputItem, type Response } from '@spool/protocol';
import { asCancelled, replayEvents } from './cancel.ts';
import type { LogEntry } from './store.ts';

function initial(): Response {
  return buildResponse({ id: 'resp_1', request: { model: 'm', background: true }, createdAt: 1, status: 'queued' });
}

/** Log entries as the APPEND script stores them: the draft with its sequence number. */
function log(drafts: EventDraft[]): LogEntry[] {
  return drafts.map((d, seq) => ({ seq, type: d.type, json: JSON.stringify({ ...d, sequence_number: seq }) }));
}

const message = (status: 'in_progress' | 'completed', text = ''): OutputItem => ({
  type: 'message',
  id: 'msg_1',
  role: 'assistant',
  status,
  content: text || status === 'completed' ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [],
});

function partialRun(): EventDraft[] {
  const queued = initial();
  const running = { ...structuredClone(queued), status: 'in_progress' as const };
  const part = { type: 'output_text' as const, text: '', annotations: [], logprobs: [] };
  return [
    lifecycleEvent('response.created', queued),
    lifecycleEvent('response.queued', queued),
    lifecycleEvent('response.in_progress', running),
    { type: 'response.output_item.added', output_index: 0, item: message('in_progress') },
    { type: 'response.content_part.added', item_id: 'msg_1', output_index: 0, content_index: 0, part },
    { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hello', logprobs: [] },
    { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' world', logprobs: [] },
  ];
}

describe('replayEvents', () => {
  it('rebuilds deltas a stale snapshot has not caught up with', () => {
    const stale = initial(); // what the record held before the writer's next snapshot refresh
    const rebuilt = replayEvents(stale, log(partialRun()));
    expect(rebuilt.status).toBe('in_progress');
    expect(rebuilt.output).toHaveLength(1);
    expect(rebuilt.output[0]).toMatchObject({ type: 'message', status: 'in_progress', content: [{ type: 'output_text', text: 'Hello world' }] });
    expect(rebuilt).not.toHaveProperty('sequence_number');
  });

  it('continues from a rebuilt snapshot with only the newer events', () => {
    const all = log(partialRun());
    const firstPass = replayEvents(initial(), all.slice(0, 6));
    const whole = replayEvents(initial(), all);
    expect(replayEvents(firstPass, all.slice(6))).toEqual(whole);
  });

  it('replaces the output from response.created, whatever the base held', () => {
    const base = initial();
    base.output = [message('completed', 'left over')];
    expect(replayEvents(base, log(partialRun().slice(0, 3))).output).toEqual([]);
  });
});

describe('asCancelled', () => {
  it('sets the status and closes open items as incomplete, leaving finished ones alone', () => {
    const s = initial();
    s.status = 'in_progress';
    s.output = [
      message('completed', 'done'),
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{"a"', status: 'in_progress' },
      { type: 'mcp_call', id: 'mcp_1', server_label: 's', name: 't', arguments: '{}', output: null, error: null, status: 'calling', approval_request_id: null },
      { type: 'mcp_list_tools', id: 'mcpl_1', server_label: 's', tools: [], error: null },
    ];
    const c = asCancelled(s);
    expect(c.status).toBe('cancelled');
    expect(c.output.map((i) => ('status' in i ? i.status : null))).toEqual(['completed', 'incomplete', 'incomplete', null]);
    expect(c.completed_at).toBeNull();
  });

  it('closes hosted items still running (searching, interpreting, generating): an image generation as failed, having no incomplete', () => {
    const s = initial();
    s.status = 'in_progress';
    s.output = [
      { type: 'file_search_call', id: 'fs_1', queries: ['q'], status: 'searching' },
      { type: 'code_interpreter_call', id: 'ci_1', code: 'x', container_id: 'c', outputs: null, status: 'interpreting' },
      { type: 'image_generation_call', id: 'ig_1', result: null, status: 'generating' },
      { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search' } },
    ];
    expect(asCancelled(s).output.map((i) => ('status' in i ? i.status : null))).toEqual(['incomplete', 'incomplete', 'failed', 'completed']);
  });

  it('does not modify its argument', () => {
    const s = replayEvents(initial(), log(partialRun()));
    const before = structuredClone(s);
    asCancelled(s);
    expect(s).toEqual(before);
  });
});
