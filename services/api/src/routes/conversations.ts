import { Router } from 'express';
import { parseConversationCreate, parseConversationItemsCreate, parseConversationUpdate } from '@spool/protocol';
import type { ConversationsService } from '../conversations-service.ts';
import { parseInputItemsQuery } from '../input-items.ts';

/**
 * `/conversations` and its items. Paths are relative, so the router serves under `/v1` and at the
 * root alike. Routes parse, call the service, format.
 */
export function conversationsRouter(service: ConversationsService): Router {
  const router = Router();
  const owner = (req: { owner?: string }) => req.owner as string;

  router.post('/conversations', async (req, res) => {
    res.json(await service.create(parseConversationCreate(req.body), owner(req)));
  });
  router.get('/conversations/:id', async (req, res) => {
    res.json(await service.get(req.params.id as string, owner(req)));
  });
  router.post('/conversations/:id', async (req, res) => {
    res.json(await service.update(req.params.id as string, owner(req), parseConversationUpdate(req.body)));
  });
  router.delete('/conversations/:id', async (req, res) => {
    res.json(await service.delete(req.params.id as string, owner(req)));
  });
  router.post('/conversations/:id/items', async (req, res) => {
    res.json(await service.addItems(req.params.id as string, owner(req), parseConversationItemsCreate(req.body)));
  });
  router.get('/conversations/:id/items', async (req, res) => {
    res.json(await service.listItems(req.params.id as string, owner(req), parseInputItemsQuery(req.query as Record<string, unknown>)));
  });
  router.get('/conversations/:id/items/:itemId', async (req, res) => {
    res.json(await service.getItem(req.params.id as string, req.params.itemId as string, owner(req)));
  });
  router.delete('/conversations/:id/items/:itemId', async (req, res) => {
    res.json(await service.deleteItem(req.params.id as string, req.params.itemId as string, owner(req)));
  });
  return router;
}
