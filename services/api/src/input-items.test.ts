import { describe, expect, it } from 'vitest';
import { ApiError, type InputItem } from '@spool/protocol';
import { listedItem, pageInputItems, parseInputItemsQuery } from './input-items.ts';

const msg = (id: string): InputItem => ({ type: 'message', id, role: 'user', content: [{ type: 'input_text', text: id }] });
const items = ['a', 'b', 'c', 'd', 'e'].map(msg);
const ids = (p: { data: Array<{ id: string }> }) => p.data.map((i) => i.id);

function badRequest(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('parseInputItemsQuery', () => {
  it('defaults to 20 items, newest first, from the start', () => {
    expect(parseInputItemsQuery({})).toEqual({ after: null, limit: 20, order: 'desc' });
  });

  it('reads after, limit and order, and ignores include', () => {
    expect(parseInputItemsQuery({ after: 'msg_1', limit: '100', order: 'asc', 'include[]': ['x'] })).toEqual({ after: 'msg_1', limit: 100, order: 'asc' });
    expect(parseInputItemsQuery({ after: '', limit: '1' })).toEqual({ after: null, limit: 1, order: 'desc' });
  });

  it.each([
    ['0', 'integer_below_min_value'],
    ['-3', 'integer_below_min_value'],
    ['101', 'integer_above_max_value'],
    ['abc', 'invalid_type'],
    ['2.5', 'invalid_type'],
  ])('refuses limit=%s with a 400 naming the parameter', (limit, code) => {
    const err = badRequest(() => parseInputItemsQuery({ limit }));
    expect(err).toMatchObject({ status: 400, param: 'limit', code, type: 'invalid_request_error' });
  });

  it('refuses an unknown order and repeated parameters', () => {
    expect(badRequest(() => parseInputItemsQuery({ order: 'up' }))).toMatchObject({ status: 400, param: 'order' });
    expect(badRequest(() => parseInputItemsQuery({ limit: ['1', '2'] }))).toMatchObject({ status: 400, param: 'limit' });
  });
});

describe('pageInputItems', () => {
  it('pages newest first by default', () => {
    const p = pageInputItems(items, { after: null, limit: 2, order: 'desc' });
    expect(p).toMatchObject({ object: 'list', first_id: 'e', last_id: 'd', has_more: true });
    expect(ids(p)).toEqual(['e', 'd']);
    expect(ids(pageInputItems(items, { after: 'd', limit: 2, order: 'desc' }))).toEqual(['c', 'b']);
    const last = pageInputItems(items, { after: 'b', limit: 2, order: 'desc' });
    expect(ids(last)).toEqual(['a']);
    expect(last.has_more).toBe(false);
  });

  it('pages in request order with asc', () => {
    expect(ids(pageInputItems(items, { after: null, limit: 3, order: 'asc' }))).toEqual(['a', 'b', 'c']);
    const p = pageInputItems(items, { after: 'c', limit: 3, order: 'asc' });
    expect(ids(p)).toEqual(['d', 'e']);
    expect(p.has_more).toBe(false);
  });

  it('says has_more false when the page ends exactly at the last item', () => {
    expect(pageInputItems(items, { after: null, limit: 5, order: 'asc' }).has_more).toBe(false);
    expect(pageInputItems(items, { after: 'd', limit: 1, order: 'asc' }).has_more).toBe(false);
  });

  it('answers an empty list with null ids', () => {
    expect(pageInputItems([], { after: null, limit: 20, order: 'desc' })).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    expect(pageInputItems(items, { after: 'a', limit: 20, order: 'desc' })).toMatchObject({ data: [], first_id: null, last_id: null, has_more: false });
  });

  it('refuses a cursor that is not an item of this response', () => {
    expect(badRequest(() => pageInputItems(items, { after: 'zzz', limit: 2, order: 'asc' }))).toMatchObject({ status: 400, param: 'after' });
  });

  it('always moves forward when an id occurs twice', () => {
    const dup = [msg('a'), msg('x'), msg('x'), msg('b')];
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const p = pageInputItems(dup, { after, limit: 1, order: 'asc' });
      seen.push(...ids(p));
      if (!p.has_more) break;
      after = p.last_id;
    }
    expect(seen).toEqual(['a', 'x', 'b']);
  });
});

describe('listedItem', () => {
  it('gives messages a status and keeps every other field', () => {
    expect(listedItem(msg('m'), 0)).toEqual({ type: 'message', id: 'm', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'm' }] });
    const fco: InputItem = { type: 'function_call_output', id: 'fco_1', call_id: 'c', output: 'x' };
    expect(listedItem(fco, 3)).toEqual(fco);
  });

  it('falls back to a positional id for an item stored without one', () => {
    const old: InputItem = { type: 'function_call_output', call_id: 'c', output: 'x' };
    expect(listedItem(old, 4).id).toBe('item_4');
  });
});
