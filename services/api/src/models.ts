import { z } from 'zod';
import { ApiError } from '@spool/protocol';

/** A model as `GET /v1/models` lists it (openai-node `Model`). */
export const ModelObjectSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number().int(),
  owned_by: z.string(),
});
export type ModelObject = z.infer<typeof ModelObjectSchema>;

export interface ModelCatalogDeps {
  /** Route names without wildcards: each is a model a client may name as it is. */
  exactNames: string[];
  /** True when a configured glob route (not the default upstream) serves this name. */
  globRouted: (model: string) => boolean;
  /** The default upstream's `/models`, or null when there is no default upstream. */
  listUpstream: (() => Promise<ModelObject[]>) | null;
  /** How long the upstream's list is reused; a failed listing is retried after a tenth of it. */
  cacheMs: number;
  now: () => number;
  /** `created` of the configured routes' entries (seconds). */
  createdAt: number;
}

/**
 * `GET /v1/models`: the configured routes' exact names, then the default upstream's models when
 * it answers `/models` (reused for `cacheMs`, so clients that list on every start do not hit it).
 * An upstream that does not answer only loses its part of the list.
 */
export class ModelCatalog {
  private cached: { until: number; models: ModelObject[] } | null = null;
  private pending: Promise<ModelObject[]> | null = null;

  constructor(private readonly d: ModelCatalogDeps) {}

  async list(): Promise<ModelObject[]> {
    const own = this.d.exactNames.map((id): ModelObject => ({ id, object: 'model', created: this.d.createdAt, owned_by: 'spool' }));
    const upstream = await this.upstreamModels();
    const seen = new Set(own.map((m) => m.id));
    return [...own, ...upstream.filter((m) => !seen.has(m.id))];
  }

  /** One model: listed, or served by a glob route; else a 404 as OpenAI's. */
  async get(id: string): Promise<ModelObject> {
    const listed = (await this.list()).find((m) => m.id === id);
    if (listed) return listed;
    if (this.d.globRouted(id)) return { id, object: 'model', created: this.d.createdAt, owned_by: 'spool' };
    throw new ApiError(404, `The model '${id}' does not exist or is not served here.`, 'invalid_request_error', 'model_not_found', 'model');
  }

  private async upstreamModels(): Promise<ModelObject[]> {
    const list = this.d.listUpstream;
    if (!list) return [];
    if (this.cached && this.cached.until > this.d.now()) return this.cached.models;
    this.pending ??= list()
      .then((models) => {
        this.cached = { until: this.d.now() + this.d.cacheMs, models };
        return models;
      })
      .catch(() => {
        this.cached = { until: this.d.now() + this.d.cacheMs / 10, models: [] };
        return [];
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }
}
