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
  /**
   * Not behind the tokens the fuzzer's identities carry (the portal's `bearerAuth`, StreamSpace's
   * `streamspaceToken`): `security: []`, an anonymous `{}` alternative, or a credential of its
   * own (the metrics token, a ticket), so a caller without one is not owed a 401 first.
   */
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
  'x-websocket'?: unknown;
}

const userTokens = ['bearerAuth', 'streamspaceToken'];
const isPublic = (security: unknown[] | undefined): boolean =>
  !Array.isArray(security) || !security.some((requirement) => Object.keys(requirement as object).some((name) => userTokens.includes(name)));
/** A WebSocket endpoint only (GET answering 101, no 2xx): not an HTTP operation to fuzz; the socket abuse tests cover upgrades. */
const socketOnly = (op: DocOperation): boolean => op['x-websocket'] !== undefined && !Object.keys(op.responses).some((s) => s.startsWith('2'));

/** Every operation of an OpenAPI 3.1 document, in document order. */
export function operationsOf(doc: { paths: Record<string, Record<string, DocOperation>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (socketOnly(op)) continue;
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
        public: isPublic(op.security),
        declared: new Set(Object.keys(op.responses).map(Number)),
      });
    }
  }
  return out;
}
