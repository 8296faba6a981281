/** JSON Schema as the served OpenAPI document writes it (draft 2020-12, from zod). */
export type JsonSchema = Record<string, unknown>;

export interface Parameter {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

/** One operation of the served OpenAPI document, as much of it as the fuzzer needs. */
export interface Operation {
  id: string;
  method: string;
  /** The OpenAPI path, `{name}` for each path parameter. */
  path: string;
  pathParams: Parameter[];
  query: Parameter[];
  body: { kind: 'json'; schema: JsonSchema } | { kind: 'raw' } | null;
  /** `security: []` in the document: a public route. */
  public: boolean;
  /** Every status the operation declares (500 among them: the document lists it on every route as "unexpected"). */
  declared: Set<number>;
}

interface DocOperation {
  operationId: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, unknown>;
}

/** Every operation of an OpenAPI 3.1 document, in document order. */
export function operationsOf(doc: { paths: Record<string, Record<string, DocOperation>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const toParam = (p: (typeof params)[number]): Parameter => ({ name: p.name, required: p.required === true, schema: p.schema ?? {} });
      const content = op.requestBody?.content ?? {};
      const json = content['application/json'];
      out.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map(toParam),
        query: params.filter((p) => p.in === 'query').map(toParam),
        body: json ? { kind: 'json', schema: json.schema ?? {} } : Object.keys(content).length > 0 ? { kind: 'raw' } : null,
        public: Array.isArray(op.security) && op.security.length === 0,
        declared: new Set(Object.keys(op.responses).map(Number)),
      });
    }
  }
  return out;
}
