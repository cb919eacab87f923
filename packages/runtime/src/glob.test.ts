import { describe, expect, it } from 'vitest';
import { loadConfig, matchesModel, routeFor, upstreamModelFor } from './config.ts';
import { globMatch, substituteCaptures } from './glob.ts';

describe('globMatch', () => {
  it('matches like a glob and returns what each star matched', () => {
    expect(globMatch('anthropic/*', 'anthropic/claude-3-5-sonnet-latest')).toEqual(['claude-3-5-sonnet-latest']);
    expect(globMatch('*/gpt-*', 'openai/gpt-4o')).toEqual(['openai', '4o']);
    expect(globMatch('a*b*c', 'aXbYbZc')).toEqual(['X', 'YbZ']);
    expect(globMatch('x**y', 'x12y')).toEqual(['12']);
    expect(globMatch('llama?', 'llama3')).toEqual([]);
    expect(globMatch('gpt-*', 'gpt-')).toEqual(['']);
    expect(globMatch('*', '')).toEqual(['']);
    expect(globMatch('a*', 'b')).toBeNull();
    expect(globMatch('a?c', 'ac')).toBeNull();
    expect(globMatch('*-mini', 'gpt-4o-mini-2')).toBeNull();
    expect(globMatch('a.b*', 'axb')).toBeNull();
  });

  it('answers for a 200 KB name against a route with several stars (a backtracking regex took about a minute)', () => {
    const long = 'gpt'.repeat(70_000);
    expect(matchesModel('*gpt*-mini', `${long}x`)).toBe(false);
    expect(matchesModel('*gpt*-mini', `${long}-mini`)).toBe(true);
    expect(matchesModel('*a*a*a*a*b', 'a'.repeat(200_000))).toBe(false);
  });

  it('substitutes {*} and numbered captures', () => {
    expect(substituteCaptures('{*}', ['claude'])).toBe('claude');
    expect(substituteCaptures('{2}@{1}', ['a', 'b'])).toBe('b@a');
    expect(substituteCaptures('fixed', ['a'])).toBe('fixed');
  });
});

describe('provider-prefixed routes', () => {
  const yaml = [
    'models:',
    '  - { name: "openai/*", base_url: "http://o:1/v1", upstream_model: "{*}" }',
    '  - { name: "anthropic/*", base_url: "http://a:1/v1", upstream_model: "{*}", drop_params: [service_tier] }',
    '  - { name: "ollama/*", base_url: "http://l:1/v1", upstream_model: "{*}:latest", context_window: 8192 }',
    '  - { name: "fixed", base_url: "http://f:1/v1", upstream_model: "real-model" }',
  ].join('\n');
  const config = loadConfig({ SPOOL_CONFIG: 'f', SPOOL_DEMO_MODEL: 'true' }, () => yaml);

  it('sends the part of the name the star matched', () => {
    const route = (m: string) => routeFor(config, m);
    expect(route('anthropic/claude-3-5-sonnet-latest')).toMatchObject({ baseUrl: 'http://a:1/v1', dropParams: ['service_tier'] });
    expect(upstreamModelFor(route('anthropic/claude-3-5-sonnet-latest')!, 'anthropic/claude-3-5-sonnet-latest')).toBe('claude-3-5-sonnet-latest');
    expect(upstreamModelFor(route('openai/gpt-4o')!, 'openai/gpt-4o')).toBe('gpt-4o');
    expect(upstreamModelFor(route('ollama/llama3')!, 'ollama/llama3')).toBe('llama3:latest');
    expect(route('ollama/llama3')?.contextWindow).toBe(8192);
    expect(upstreamModelFor(route('fixed')!, 'fixed')).toBe('real-model');
    expect(route('mistral/x')).toBeNull();
  });
});
