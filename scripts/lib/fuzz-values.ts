import fc from 'fast-check';
import type { JsonSchema } from './fuzz-operations.ts';

const anyJson = fc.jsonValue({ maxDepth: 2 });

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'email') return fc.emailAddress();
  if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? Math.min(schema.maxLength, min + 40) : min + 20;
  if (typeof schema.pattern === 'string') {
    try {
      // The pattern alone may allow any length; the bounds keep the value valid.
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= ((schema.maxLength as number | undefined) ?? Infinity));
    } catch {
      // A pattern fast-check cannot generate from: fall back to plain strings.
    }
  }
  return fc.string({ minLength: min, maxLength: max });
}

function numberOf(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : -1000;
  const hi = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : lo + 2000;
  const min = Math.max(lo, Number.MIN_SAFE_INTEGER);
  const max = Math.min(Math.max(hi, min), Number.MAX_SAFE_INTEGER);
  return integer ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/**
 * Values a schema accepts (or nearly: formats and patterns fast-check cannot honour are
 * approximated). The mutations then break them; this is where a valid request starts.
 */
export function valueOf(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...(schema.enum as unknown[]));
  const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return fc.oneof(...alternatives.map((s) => valueOf(s, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return valueOf(schema.allOf[0] as JsonSchema, depth + 1);
  const type = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
  if (type.length > 1) return fc.oneof(...type.map((t) => valueOf({ ...schema, type: t }, depth + 1)));
  switch (type[0]) {
    case 'string':
      return stringOf(schema);
    case 'integer':
      return numberOf(schema, true);
    case 'number':
      return numberOf(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = (schema.items as JsonSchema | undefined) ?? {};
      const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const maxLength = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 3, minLength + 3);
      return fc.array(valueOf(items, depth + 1), { minLength, maxLength });
    }
    case 'object':
      return objectOf(schema, depth);
    default:
      return schema.properties ? objectOf(schema, depth) : anyJson;
  }
}

function objectOf(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const model = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, valueOf(s, depth + 1)]));
  return fc.record(model, { requiredKeys: Object.keys(properties).filter((k) => required.has(k)) });
}

/** A query string value: what `valueOf` gives, written as text (arrays repeat the name). */
export function queryText(value: unknown): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(queryText);
  if (typeof value === 'object' && value !== null) return [JSON.stringify(value)];
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects were written as JSON above: a primitive is left
  return [String(value)];
}
