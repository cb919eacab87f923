export { newId } from './ids.ts';
export { ApiError, ConnectorError, ErrorBodySchema, type ApiErrorType, type ErrorBody } from './errors.ts';
export { assertDepthWithin, tooDeepPath } from './bounds.ts';
export * from './items.ts';
export * from './elicitation.ts';
export * from './tools.ts';
export { CreateResponseRequestSchema, TextFormatSchema, parseCreateRequest, parseOrBadRequest, paramFromPath, type CreateResponseRequest, type TextFormat } from './request.ts';
export {
  ResponseSchema,
  ResponseStatusSchema,
  UsageSchema,
  TERMINAL_STATUSES,
  buildResponse,
  echoTool,
  isTerminal,
  redactServerUrl,
  type Response,
  type ResponseError,
  type ResponseErrorCode,
  ResponseErrorCodeSchema,
  type ResponseStatus,
  type Usage,
} from './response.ts';
export {
  EventDraftSchema,
  HostedItemEventSchema,
  TERMINAL_EVENT_TYPES,
  errorEvent,
  lifecycleEvent,
  type EventDraft,
  type EventType,
  type HostedItemEvent,
  type LifecycleEvent,
  type LifecycleType,
  type StreamEvent,
} from './events.ts';
export { applyEvent, assertNever } from './accumulate.ts';
export { SUPPORTED_INCLUDES, isDropped, refuseUnservedParams } from './params.ts';
export { mcpFunctionName } from './tool-names.ts';
export {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  ChatMcpFieldsSchema,
  ChatMessageSchema,
  ChatToolSchema,
  parseChatCompletionRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type ChatFinishReason,
  type ChatMcpFields,
  type ChatMessage,
  type ChatTool,
  type ChatToolCall,
  type ChatToolChoice,
  type ChatUsage,
} from './chat.ts';
export { WEBHOOK_EVENT_TYPES, WebhookEventTypeSchema, type WebhookEventType } from './webhooks.ts';
export {
  ConversationCreateRequestSchema,
  ConversationDeletedSchema,
  ConversationItemsCreateRequestSchema,
  ConversationSchema,
  ConversationUpdateRequestSchema,
  MAX_CONVERSATION_ITEMS_PER_REQUEST,
  asConversationItem,
  conversationIdOf,
  parseConversationCreate,
  parseConversationItemsCreate,
  parseConversationUpdate,
  type Conversation,
  type ConversationCreateRequest,
  type ConversationDeleted,
  type ConversationItemsCreateRequest,
  type ConversationUpdateRequest,
} from './conversations.ts';
export { CompactRequestSchema, parseCompactRequest, type CompactRequest, type CompactedResponse, type CompactionOutputItem } from './compact.ts';
export { ContextManagementSchema, MetadataSchema, type ContextManagement } from './request.ts';
