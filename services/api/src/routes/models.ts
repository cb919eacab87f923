import { Router } from 'express';
import type { ModelCatalog } from '../models.ts';

/** `GET /v1/models` and `GET /v1/models/{id}` (ids may hold `/`: `anthropic/claude-…`). */
export function modelsRouter(catalog: ModelCatalog): Router {
  const router = Router();
  router.get('/models', async (_req, res) => {
    res.json({ object: 'list', data: await catalog.list() });
  });
  router.get('/models/*id', async (req, res) => {
    const parts = (req.params as { id: string[] }).id;
    res.json(await catalog.get(parts.join('/')));
  });
  return router;
}
