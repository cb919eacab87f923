import { describe, expect, it } from 'vitest';
import { canonicalHeaderName, mcpHeadersFor } from './headers.ts';

describe('mcpHeadersFor', () => {
  it('maps x-mcp-<label>-<header> to <header> in canonical capitalisation', () => {
    expect(mcpHeadersFor('github', { 'x-mcp-github-authorization': 'Bearer gh' })).toEqual({
      Authorization: 'Bearer gh',
    });
    expect(mcpHeadersFor('github', { 'x-mcp-github-x-api-key': 'k' })).toEqual({ 'X-Api-Key': 'k' });
  });

  it('matches the prefix and the label case-insensitively', () => {
    expect(mcpHeadersFor('GitHub', { 'X-MCP-GITHUB-Authorization': 'Bearer gh' })).toEqual({
      Authorization: 'Bearer gh',
    });
    expect(mcpHeadersFor('github', { 'X-Mcp-GitHub-AUTHORIZATION': 'Bearer gh' })).toEqual({
      Authorization: 'Bearer gh',
    });
  });

  it('drops headers addressed to another server', () => {
    expect(
      mcpHeadersFor('github', {
        'x-mcp-jira-authorization': 'Bearer jira',
        'x-mcp-githubx-authorization': 'Bearer not-github',
        'x-mcp-github-authorization': 'Bearer gh',
      }),
    ).toEqual({ Authorization: 'Bearer gh' });
  });

  it('drops x-litellm-api-key whatever its case', () => {
    expect(mcpHeadersFor('s', { 'x-litellm-api-key': 'sk-1', 'X-LiteLLM-API-Key': 'sk-2', 'X-Other': 'o' })).toEqual({
      'X-Other': 'o',
    });
  });

  it('passes other headers exactly as given', () => {
    expect(mcpHeadersFor('s', { 'x-custom': 'a', Authorization: 'Basic abc', 'X-Trace-ID': 't' })).toEqual({
      'x-custom': 'a',
      Authorization: 'Basic abc',
      'X-Trace-ID': 't',
    });
  });

  it('lets a targeted header win over a plain one of the same name, in either order', () => {
    expect(mcpHeadersFor('gh', { 'x-mcp-gh-authorization': 'Bearer targeted', authorization: 'Bearer plain' })).toEqual({
      Authorization: 'Bearer targeted',
    });
    expect(mcpHeadersFor('gh', { authorization: 'Bearer plain', 'x-mcp-gh-authorization': 'Bearer targeted' })).toEqual({
      Authorization: 'Bearer targeted',
    });
  });

  it('turns the authorization token into a Bearer header when none is set', () => {
    expect(mcpHeadersFor('s', null, 'tok')).toEqual({ Authorization: 'Bearer tok' });
    expect(mcpHeadersFor('s', undefined, 'tok')).toEqual({ Authorization: 'Bearer tok' });
    expect(mcpHeadersFor('s', { 'X-A': '1' }, 'tok')).toEqual({ 'X-A': '1', Authorization: 'Bearer tok' });
  });

  it('keeps an Authorization header already set (plain or targeted) over the token', () => {
    expect(mcpHeadersFor('s', { authorization: 'Basic xyz' }, 'tok')).toEqual({ authorization: 'Basic xyz' });
    expect(mcpHeadersFor('s', { 'x-mcp-s-authorization': 'Bearer h' }, 'tok')).toEqual({ Authorization: 'Bearer h' });
  });

  it('does not double the scheme of a token that already has one, and ignores empty tokens', () => {
    expect(mcpHeadersFor('s', {}, 'Bearer tok')).toEqual({ Authorization: 'Bearer tok' });
    expect(mcpHeadersFor('s', {}, '')).toEqual({});
    expect(mcpHeadersFor('s', {}, null)).toEqual({});
  });

  it('handles labels containing dashes and ignores an empty header name', () => {
    expect(mcpHeadersFor('my-server', { 'x-mcp-my-server-x-key': 'k', 'x-mcp-my-server-': 'nothing' })).toEqual({
      'X-Key': 'k',
    });
  });

  it('never sends two headers that differ only by case', () => {
    const headers = mcpHeadersFor('s', { 'x-key': 'a', 'X-Key': 'b' });
    expect(Object.keys(headers)).toHaveLength(1);
  });
});

describe('canonicalHeaderName', () => {
  it('capitalises each dash-separated word', () => {
    expect(canonicalHeaderName('authorization')).toBe('Authorization');
    expect(canonicalHeaderName('X-API-KEY')).toBe('X-Api-Key');
    expect(canonicalHeaderName('x--y')).toBe('X--Y');
  });
});
