import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

type Schema = Record<string, unknown>;

const doc = parse(readFileSync('docs/api/openapi.yaml', 'utf8')) as Schema;

/** `$ref`s replaced by what they point at; objects closed to fields the file does not name. */
function resolve(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolve);
  if (!node || typeof node !== 'object') return node;
  const ref = (node as { $ref?: string }).$ref;
  if (ref !== undefined) {
    let target: unknown = doc;
    for (const key of ref.replace(/^#\//, '').split('/')) target = (target as Schema)[key];
    return resolve(target);
  }
  const out: Schema = {};
  // A description is prose (a string); a property named `description` would be a schema (an object).
  for (const [k, v] of Object.entries(node))
    if (k !== 'description' || typeof v !== 'string') out[k] = resolve(v);
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/**
 * The JSON response schema the OpenAPI file documents for an operation and status, as a zod schema
 * (strict: a field the server sends and the file does not name fails it).
 */
export function responseSchema(method: string, path: string, status = 200): z.ZodType {
  const paths = doc.paths as Record<string, Record<string, Schema>>;
  const response = paths[path]?.[method.toLowerCase()]?.responses as Record<string, Schema> | undefined;
  let r: Schema | undefined = response?.[String(status)];
  if (r?.$ref) r = resolve(r) as Schema;
  const schema = (r?.content as Record<string, { schema: unknown }> | undefined)?.['application/json']
    ?.schema;
  if (schema === undefined) throw new Error(`openapi.yaml documents no JSON ${status} for ${method} ${path}`);
  return z.fromJSONSchema(resolve(schema) as Parameters<typeof z.fromJSONSchema>[0]);
}

/** The body, checked against the documented schema; the failure names the fields that differ. */
export function expectDocumented(method: string, path: string, body: unknown, status = 200): void {
  const r = responseSchema(method, path, status).safeParse(body);
  if (!r.success)
    throw new Error(`${method} ${path} ${status} does not match openapi.yaml: ${z.prettifyError(r.error)}`);
}
