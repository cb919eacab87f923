import { ApiError } from './errors.ts';
import { paramFromPath } from './request.ts';

/**
 * The path to the first value nested deeper than `maxDepth` (the body itself is depth 1), or null.
 * Iterative: a body of a million brackets parses (JSON.parse does not recurse) but would overflow
 * the stack of any recursive walk, `structuredClone` and `JSON.stringify` included, so depth is
 * refused at the door, before anything walks the value.
 */
export function tooDeepPath(value: unknown, maxDepth: number): Array<string | number> | null {
  const stack: Array<{ v: unknown; depth: number; path: Array<string | number> }> = [{ v: value, depth: 1, path: [] }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop() as (typeof stack)[number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxDepth) return path;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: [...path, i] });
    } else {
      for (const [k, child] of Object.entries(v)) if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: depth + 1, path: [...path, k] });
    }
  }
  return null;
}

/** A 400 naming where the body nests deeper than `maxDepth` (the first few levels of the path). */
export function assertDepthWithin(body: unknown, maxDepth: number): void {
  const path = tooDeepPath(body, maxDepth);
  if (!path) return;
  const param = paramFromPath(path.slice(0, 4));
  throw ApiError.badRequest(`The request nests JSON deeper than ${maxDepth} levels${param ? ` (at '${param}')` : ''}.`, param, 'nesting_too_deep');
}
