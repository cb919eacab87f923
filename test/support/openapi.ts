import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/*
 * Validators built from the Open Responses OpenAPI document, the schema the Open Responses
 * compliance suite checks every Response and every stream event against. The document is kept in
 * the repository (test/spec, unchanged from the public spec), so the tests run on a plain clone.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the spec is: `test/spec/openresponses-openapi.json`. */
export const SPEC_PATH = resolve(repoRoot, 'test', 'spec', 'openresponses-openapi.json');

/** True when the spec file exists; suites call `describe.skipIf(!SPEC_AVAILABLE)`. */
export const SPEC_AVAILABLE = existsSync(SPEC_PATH);

/** Why schema tests skip, or null when they run. */
export const SPEC_SKIP_REASON: string | null = SPEC_AVAILABLE ? null : `Open Responses schema tests skipped: the spec folder is absent (no ${SPEC_PATH}).`;

/** The component the compliance suite's `responseResourceSchema` is generated from. */
export const RESPONSE_RESOURCE_COMPONENT = 'ResponseResource';
/** Where the stream event union lives: the `oneOf` of `POST /responses` → 200 → `text/event-stream`. */
export const STREAM_EVENT_UNION_LOCATION = "paths['/responses'].post.responses['200'].content['text/event-stream'].schema";

const REF_PREFIX = '#/components/schemas/';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// ajv-formats is CommonJS with `module.exports = plugin` and a `default` alias; under NodeNext the
// default import is typed as the module object, so take whichever shape arrives at runtime.
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
const addFormats: FormatsPlugin = (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

interface Compiled {
  /** Authoritative: plain JSON Schema 2020-12 semantics (`oneOf` = exactly one branch matches). */
  response: ValidateFunction;
  events: ValidateFunction;
  /**
   * Same schemas with ajv's OpenAPI `discriminator` support, used only to explain a failure: it
   * reports the errors of the branch selected by `type` instead of every branch's mismatch.
   * Null if ajv cannot compile the discriminators.
   */
  explainResponse: ValidateFunction | null;
  explainEvents: ValidateFunction | null;
  /** Event `type` value → component name, from the union's branches. */
  eventComponents: Map<string, string>;
}

let compiled: Compiled | null = null;

function makeAjv(discriminator: boolean, schemas: Record<string, unknown>): Ajv2020 {
  // OpenAPI 3.1 schemas are JSON Schema 2020-12 plus OpenAPI keywords (discriminator, example,
  // x-*), which strict mode would reject.
  const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator });
  addFormats(ajv);
  // Each component under the very string other components use to reference it.
  for (const [name, schema] of Object.entries(schemas)) ajv.addSchema(schema as object, `${REF_PREFIX}${name}`);
  return ajv;
}

function loadSpec(): Compiled {
  if (compiled) return compiled;
  if (!SPEC_AVAILABLE) throw new Error(SPEC_SKIP_REASON ?? 'spec missing');
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Json;
  const schemas = (spec.components as Json | undefined)?.schemas;
  if (!isObject(schemas) || !isObject(schemas[RESPONSE_RESOURCE_COMPONENT])) {
    throw new Error(`${SPEC_PATH}: no components.schemas.${RESPONSE_RESOURCE_COMPONENT}`);
  }
  const post = ((spec.paths as Json | undefined)?.['/responses'] as Json | undefined)?.post as Json | undefined;
  const ok = ((post?.responses as Json | undefined)?.['200'] as Json | undefined)?.content as Json | undefined;
  const union = (ok?.['text/event-stream'] as Json | undefined)?.schema;
  if (!isObject(union) || !Array.isArray(union.oneOf)) throw new Error(`${SPEC_PATH}: no oneOf at ${STREAM_EVENT_UNION_LOCATION}`);

  const eventComponents = new Map<string, string>();
  for (const branch of union.oneOf) {
    const ref = isObject(branch) && typeof branch.$ref === 'string' ? branch.$ref : '';
    const name = ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : '';
    const typeSchema = (schemas[name] as Json | undefined)?.properties as Json | undefined;
    const values = (typeSchema?.type as Json | undefined)?.enum;
    if (Array.isArray(values)) for (const v of values) if (typeof v === 'string') eventComponents.set(v, name);
  }

  const plain = makeAjv(false, schemas);
  const response = plain.getSchema(`${REF_PREFIX}${RESPONSE_RESOURCE_COMPONENT}`);
  if (!response) throw new Error(`ajv could not compile ${RESPONSE_RESOURCE_COMPONENT}`);
  const events = plain.compile(union);

  let explainResponse: ValidateFunction | null = null;
  let explainEvents: ValidateFunction | null = null;
  try {
    const explaining = makeAjv(true, schemas);
    explainResponse = explaining.getSchema(`${REF_PREFIX}${RESPONSE_RESOURCE_COMPONENT}`) ?? null;
    explainEvents = explaining.compile(union);
  } catch {
    // Plain errors are still correct, only noisier.
  }
  compiled = { response, events, explainResponse, explainEvents, eventComponents };
  return compiled;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    const params = Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : '';
    const line = `${where}: ${e.message ?? e.keyword}${params}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

function run(validate: ValidateFunction, explain: ValidateFunction | null, obj: unknown): string[] {
  if (validate(obj)) return [];
  if (explain && !explain(obj)) return formatErrors(explain.errors);
  return formatErrors(validate.errors);
}

/** Errors of `obj` against components.schemas.ResponseResource; empty when valid. */
export function validateResponseResource(obj: unknown): string[] {
  const c = loadSpec();
  return run(c.response, c.explainResponse, obj);
}

/**
 * Events Spool sends under the openai SDK's names (its clients are Spool's users) where the
 * Open Responses schema has another name for the same event; they are validated as the schema's.
 */
export const SDK_EVENT_NAMES: ReadonlyMap<string, string> = new Map([
  ['response.reasoning_text.delta', 'response.reasoning.delta'],
  ['response.reasoning_text.done', 'response.reasoning.done'],
]);

/** Errors of `obj` against the `text/event-stream` event union of `POST /responses`; empty when valid. */
export function validateStreamingEvent(obj: unknown): string[] {
  const c = loadSpec();
  const sdkName = isObject(obj) && typeof obj.type === 'string' ? SDK_EVENT_NAMES.get(obj.type) : undefined;
  if (sdkName && isObject(obj)) obj = { ...obj, type: sdkName };
  const errors = run(c.events, c.explainEvents, obj);
  if (errors.length === 0) return errors;
  const type = isObject(obj) ? obj.type : undefined;
  const component = typeof type === 'string' ? c.eventComponents.get(type) : undefined;
  const head = component ? `${String(type)} (${component})` : `unknown event type ${JSON.stringify(type)}: not one of the ${c.eventComponents.size} types of the event union`;
  return errors.map((e) => `${head}: ${e}`);
}

/** The event `type` values the union admits, each with its component name. */
export function streamingEventComponents(): ReadonlyMap<string, string> {
  return loadSpec().eventComponents;
}

let components: { ajv: Ajv2020; names: Set<string> } | null = null;

/** Errors of `obj` against one named component (WebSocketErrorEvent, CompactResource, …); empty when valid. */
export function validateComponent(name: string, obj: unknown): string[] {
  if (!components) {
    const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Json;
    const schemas = ((spec.components as Json | undefined)?.schemas ?? {}) as Record<string, unknown>;
    components = { ajv: makeAjv(false, schemas), names: new Set(Object.keys(schemas)) };
  }
  if (!components.names.has(name)) throw new Error(`${SPEC_PATH}: no components.schemas.${name}`);
  const validate = components.ajv.getSchema(`${REF_PREFIX}${name}`);
  if (!validate) throw new Error(`ajv could not compile ${name}`);
  return validate(obj) ? [] : formatErrors(validate.errors);
}
