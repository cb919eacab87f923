import { startScriptedUpstream } from '@spool/demo-model';
import type { Config } from '@spool/runtime';

/**
 * With no upstream configured, a process that runs the llm role serves the built-in demo model
 * on loopback and routes every model to it; other processes change nothing (the api knows the
 * demo model from `config.demoModel`). Returns the config to run with and how to stop the model.
 */
export async function withDemoModel(config: Config): Promise<{ config: Config; demoUrl: string | null; close: () => Promise<void> }> {
  if (!config.demoModel || !config.roles.has('llm')) return { config, demoUrl: null, close: async () => undefined };
  const demo = await startScriptedUpstream({ host: '127.0.0.1' });
  return {
    config: { ...config, defaultUpstream: { baseUrl: demo.url, apiKey: 'demo', maxTokensParam: 'max_completion_tokens' as const } },
    demoUrl: demo.url,
    close: demo.close,
  };
}
