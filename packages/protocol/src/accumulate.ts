import type { EventDraft } from './events.ts';
import type { OutputItem, OutputMessage, OutputHostedCall, OutputReasoning } from './items.ts';
import type { Response } from './response.ts';

/**
 * Applies one event to a Response snapshot, in place. The snapshot a poll sees is derived from
 * the very events a stream sees, so the two can never disagree. Mirrors openai-node's accumulator:
 * deltas append, `.done` events overwrite with the final value, lifecycle events replace the whole.
 */
export function applyEvent(snapshot: Response, event: EventDraft): Response {
  switch (event.type) {
    case 'response.created':
    case 'response.queued':
    case 'response.in_progress':
    case 'response.completed':
    case 'response.failed':
    case 'response.incomplete':
      // The snapshot takes the event's response over (it is serialised or freshly parsed by then).
      if (event.response !== snapshot) Object.assign(snapshot, event.response);
      return snapshot;
    case 'response.output_item.added':
    case 'response.output_item.done':
      snapshot.output[event.output_index] = structuredClone(event.item);
      return snapshot;
    case 'response.content_part.added':
    case 'response.content_part.done': {
      if (event.part.type === 'reasoning_text') {
        const reasoning = reasoningAt(snapshot, event.output_index);
        if (reasoning) reasoning.content[event.content_index] = structuredClone(event.part);
        return snapshot;
      }
      const msg = messageAt(snapshot, event.output_index);
      if (msg) msg.content[event.content_index] = structuredClone(event.part);
      return snapshot;
    }
    case 'response.reasoning_text.delta': {
      const part = reasoningAt(snapshot, event.output_index)?.content[event.content_index];
      if (part) part.text += event.delta;
      return snapshot;
    }
    case 'response.reasoning_text.done': {
      const part = reasoningAt(snapshot, event.output_index)?.content[event.content_index];
      if (part) part.text = event.text;
      return snapshot;
    }
    case 'response.reasoning_summary_part.added':
    case 'response.reasoning_summary_part.done': {
      const reasoning = reasoningAt(snapshot, event.output_index);
      if (reasoning) reasoning.summary[event.summary_index] = structuredClone(event.part);
      return snapshot;
    }
    case 'response.reasoning_summary_text.delta': {
      const part = reasoningAt(snapshot, event.output_index)?.summary[event.summary_index];
      if (part) part.text += event.delta;
      return snapshot;
    }
    case 'response.reasoning_summary_text.done': {
      const part = reasoningAt(snapshot, event.output_index)?.summary[event.summary_index];
      if (part) part.text = event.text;
      return snapshot;
    }
    case 'response.output_text.delta': {
      const part = messageAt(snapshot, event.output_index)?.content[event.content_index];
      if (part?.type === 'output_text') part.text += event.delta;
      return snapshot;
    }
    case 'response.output_text.done': {
      const part = messageAt(snapshot, event.output_index)?.content[event.content_index];
      if (part?.type === 'output_text') part.text = event.text;
      return snapshot;
    }
    case 'response.refusal.delta': {
      const part = messageAt(snapshot, event.output_index)?.content[event.content_index];
      if (part?.type === 'refusal') part.refusal += event.delta;
      return snapshot;
    }
    case 'response.refusal.done': {
      const part = messageAt(snapshot, event.output_index)?.content[event.content_index];
      if (part?.type === 'refusal') part.refusal = event.refusal;
      return snapshot;
    }
    case 'response.function_call_arguments.delta':
    case 'response.mcp_call_arguments.delta': {
      const item = snapshot.output[event.output_index];
      if (item && (item.type === 'function_call' || item.type === 'mcp_call')) item.arguments += event.delta;
      return snapshot;
    }
    case 'response.function_call_arguments.done':
    case 'response.mcp_call_arguments.done': {
      const item = snapshot.output[event.output_index];
      if (item && (item.type === 'function_call' || item.type === 'mcp_call')) item.arguments = event.arguments;
      return snapshot;
    }
    case 'response.mcp_call.in_progress':
    case 'response.mcp_call.completed':
    case 'response.mcp_call.failed': {
      const item = snapshot.output[event.output_index];
      if (item?.type === 'mcp_call') item.status = event.type.slice('response.mcp_call.'.length) as OutputItemStatus;
      return snapshot;
    }
    case 'response.web_search_call.in_progress':
    case 'response.web_search_call.searching':
    case 'response.web_search_call.completed':
    case 'response.file_search_call.in_progress':
    case 'response.file_search_call.searching':
    case 'response.file_search_call.completed':
    case 'response.code_interpreter_call.in_progress':
    case 'response.code_interpreter_call.interpreting':
    case 'response.code_interpreter_call.completed':
    case 'response.image_generation_call.in_progress':
    case 'response.image_generation_call.generating':
    case 'response.image_generation_call.completed': {
      // A hosted item's status events are named `response.<item type>.<status>`.
      const item = snapshot.output[event.output_index];
      const [itemType, status] = event.type.slice('response.'.length).split('.') as [string, OutputHostedCall['status']];
      if (item && item.type === itemType) (item as OutputHostedCall).status = status;
      return snapshot;
    }
    case 'response.code_interpreter_call_code.delta': {
      const item = snapshot.output[event.output_index];
      if (item?.type === 'code_interpreter_call') item.code = (item.code ?? '') + event.delta;
      return snapshot;
    }
    case 'response.code_interpreter_call_code.done': {
      const item = snapshot.output[event.output_index];
      if (item?.type === 'code_interpreter_call') item.code = event.code;
      return snapshot;
    }
    // A partial image is a preview: the item's result is the final image its `.done` gives.
    case 'response.image_generation_call.partial_image':
    case 'response.mcp_list_tools.in_progress':
    case 'response.mcp_list_tools.completed':
    case 'response.mcp_list_tools.failed':
    case 'error':
      return snapshot;
    default:
      return assertNever(event);
  }
}

type OutputItemStatus = Extract<OutputItem, { type: 'mcp_call' }>['status'];

function reasoningAt(snapshot: Response, index: number): OutputReasoning | undefined {
  const item = snapshot.output[index];
  return item?.type === 'reasoning' ? item : undefined;
}

function messageAt(snapshot: Response, index: number): OutputMessage | undefined {
  const item = snapshot.output[index];
  return item?.type === 'message' ? item : undefined;
}

export function assertNever(value: never): never {
  throw new Error(`Unhandled variant: ${JSON.stringify(value)}`);
}
