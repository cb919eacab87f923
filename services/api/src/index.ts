export { createApp, type AppDeps } from './app.ts';
export { ResponsesService, SyncTimeoutError, normalizeInput, type ResponsesServiceDeps } from './responses-service.ts';
export { ownerOf, ANONYMOUS_OWNER } from './auth.ts';
export { SseWriter } from './sse.ts';
export { ModelCatalog, ModelObjectSchema, type ModelCatalogDeps, type ModelObject } from './models.ts';
export { bareKey } from './auth.ts';
