export { createApp, type AppDeps } from './app.ts';
export { ResponsesService, SyncTimeoutError, normalizeInput, type ResponsesServiceDeps } from './responses-service.ts';
export { ownerOf, ANONYMOUS_OWNER } from './auth.ts';
export { SseWriter } from './sse.ts';
