export { createApp, type AppDeps } from './app.ts';
export { ResponsesService, normalizeInput, type ResponsesServiceDeps } from './responses-service.ts';
export { ownerOf, ANONYMOUS_OWNER } from './auth.ts';
export { SseWriter } from './sse.ts';
export { Admission, ApiErrorWithHeaders, QueueFullError, RateLimitedError, formatReset, rateLimitHeaders, type AdmissionDeps } from './admission.ts';
export { OperateService, type OperateServiceDeps, type QueueCounts } from './operate-service.ts';
export { metricsHandler, operateRouter, type OperateRouteOptions } from './routes/operate.ts';
