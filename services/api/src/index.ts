export { createApp, type AppDeps } from './app.ts';
export { ResponsesService, SyncTimeoutError, normalizeInput, type ResponsesServiceDeps } from './responses-service.ts';
export { ownerOf, ANONYMOUS_OWNER } from './auth.ts';
export { SseWriter } from './sse.ts';
export { ModelCatalog, ModelObjectSchema, type ModelCatalogDeps, type ModelObject } from './models.ts';
export { bareKey } from './auth.ts';
export { attachResponsesWebSocket, checkUpgrade, socketErrorEvent, type ResponsesSocketOptions } from './websocket.ts';
export { ConversationsService, type ConversationsServiceDeps, type ConversationItemList } from './conversations-service.ts';
