import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';

const prefix = '#/components/schemas/';
/** A placeholder for an input-side component, resolved once every schema is known (see `finish`). */
const inputMark = '~input';

/**
 * Drops zod's long patterns for `date-time` and `uuid` from answers: the format says it, and the
 * server writes them. Inputs keep them (they are stricter than the format: no offsets, UUID versions).
 */
function override(io: Io) {
  return (ctx: { jsonSchema: JsonSchema }) => {
    if (io === 'output' && (ctx.jsonSchema.format === 'date-time' || ctx.jsonSchema.format === 'uuid')) delete ctx.jsonSchema.pattern;
  };
}

function rewriteRefs(node: unknown, rename: (ref: string) => string): unknown {
  if (Array.isArray(node)) return node.map((item) => rewriteRefs(item, rename));
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === '$ref' && typeof value === 'string' ? rename(value) : rewriteRefs(value, rename);
  return out;
}

/**
 * Turns zod schemas into JSON Schema for the document. A schema registered with
 * `.meta({ id: 'User' })` becomes one `components.schemas.User` that every use `$ref`s, so a
 * user, a server or a page is described once (and a generated client gets one type for it).
 * Where the request side of a schema differs from the answer side (defaults make fields
 * optional on input), the input one is `UserInput`.
 */
export class SchemaCollector {
  private readonly defs: Record<Io, Map<string, JsonSchema>> = { input: new Map(), output: new Map() };

  convert(schema: z.ZodType, io: Io): JsonSchema {
    const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', override: override(io) }) as JsonSchema;
    delete out.$schema;
    const defs = (out.$defs ?? {}) as Record<string, JsonSchema>;
    delete out.$defs;
    const rename = (ref: string) => (ref.startsWith('#/$defs/') ? `${prefix}${ref.slice(8)}${io === 'input' ? inputMark : ''}` : ref);
    for (const [id, def] of Object.entries(defs)) {
      if (id.startsWith('__')) throw new Error(`OpenAPI: a schema zod could not inline (${id}, a cycle?) needs .meta({ id })`);
      const body = rewriteRefs(def, rename) as JsonSchema;
      const known = this.defs[io].get(id);
      if (known && !isDeepStrictEqual(known, body)) throw new Error(`OpenAPI: two different schemas carry the id "${id}"; give each its own`);
      this.defs[io].set(id, body);
    }
    return rewriteRefs(out, rename) as JsonSchema;
  }

  /** The components, and the document with its input placeholders resolved to their final names. */
  finish<T>(document: T, fixed: Record<string, JsonSchema>): { document: T; schemas: Record<string, JsonSchema> } {
    const names = new Map<string, string>();
    for (const [id, body] of this.defs.input) {
      const output = this.defs.output.get(id);
      names.set(
        id,
        output === undefined ||
          isDeepStrictEqual(
            rewriteRefs(body, (r) => r.replace(inputMark, '')),
            output,
          )
          ? id
          : `${id}Input`,
      );
    }
    // A nested id can differ on input while its parent does not: resolve until nothing changes.
    const resolve = (ref: string) => (ref.endsWith(inputMark) ? `${prefix}${names.get(ref.slice(prefix.length, -inputMark.length)) ?? ''}` : ref);
    const schemas: Record<string, JsonSchema> = { ...fixed };
    for (const [id, body] of this.defs.output) schemas[id] = rewriteRefs(body, resolve) as JsonSchema;
    for (const [id, body] of this.defs.input) {
      const name = names.get(id) as string;
      if (name !== id || !(id in schemas)) schemas[name] = rewriteRefs(body, resolve) as JsonSchema;
    }
    const sorted = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
    return { document: rewriteRefs(document, resolve) as T, schemas: sorted };
  }
}
