import { shippedPlugins } from '../../plugins/index.ts';
import { startTestApp } from './start-test-app.ts';

export type OpenApiDocument = {
  openapi: string;
  info: { license?: { name: string; identifier?: string } };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses?: Record<string, Response>; securitySchemes: Record<string, unknown> };
};
type Media = { schema?: { $ref?: string }; example?: unknown; examples?: unknown };
type Response = { $ref?: string; description?: string; content?: Record<string, Media> };
export type Operation = {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, Media> };
  parameters?: Array<{ example?: unknown }>;
  responses: Record<string, Response>;
  'x-websocket'?: unknown;
};

/**
 * The document the app serves with every shipped plugin enabled, as a deployment would (the
 * public URL is a real-looking one: the document's `servers` is whatever PUBLIC_URL says).
 */
export async function shippedOpenApiDocument(): Promise<{ text: string; document: OpenApiDocument }> {
  const app = await startTestApp({ plugins: shippedPlugins, config: { server: { public_url: 'https://panel.hosting.test' } } });
  try {
    const res = await app.request('/openapi.json');
    if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
    const text = await res.text();
    return { text, document: JSON.parse(text) as OpenApiDocument };
  } finally {
    await app.close();
  }
}

const methods = ['get', 'put', 'post', 'delete', 'patch'];

export function operationsOf(document: OpenApiDocument): Array<{ name: string; operation: Operation }> {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => methods.includes(method))
      .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );
}

function resolved(document: OpenApiDocument, response: Response): Response {
  const name = response.$ref?.replace('#/components/responses/', '');
  return name === undefined ? response : (document.components.responses?.[name] ?? {});
}

const hasExample = (content: Record<string, Media> | undefined) => Object.values(content ?? {}).some((m) => m.example !== undefined || m.examples !== undefined);

/** What a client generator and a reader depend on, as a list of broken promises (empty: clean). */
export function openApiProblems(document: OpenApiDocument): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  if (document.info.license?.identifier !== 'MIT') problems.push('info.license is not MIT');
  for (const { name, operation } of operationsOf(document)) {
    const id = operation.operationId;
    if (!id || !/^[a-z][A-Za-z0-9]*$/.test(id)) problems.push(`${name}: operationId ${String(id)} is not camelCase`);
    else if (ids.has(id)) problems.push(`${name}: operationId ${id} is used twice`);
    else ids.add(id);
    if (!operation.summary) problems.push(`${name}: no summary`);
    if (!Array.isArray(operation.security)) problems.push(`${name}: no explicit security`);
    const statuses = Object.keys(operation.responses);
    if (!statuses.some((s) => /^[23]/.test(s)) && !(statuses.includes('101') && operation['x-websocket'])) problems.push(`${name}: no success response`);
    // An example of the request (body or parameters) or of a success answer: what the route does, not what its errors look like.
    const successExample = statuses.filter((s) => Number(s) < 400).some((s) => hasExample(resolved(document, operation.responses[s] as Response).content));
    const parameterExample = (operation.parameters ?? []).some((p) => p.example !== undefined);
    if (!hasExample(operation.requestBody?.content) && !successExample && !parameterExample) problems.push(`${name}: no example`);
    for (const status of statuses.filter((s) => Number(s) >= 400)) {
      const response = resolved(document, operation.responses[status] as Response);
      if (response.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') problems.push(`${name}: ${status} has no Error envelope body`);
    }
  }
  return problems;
}
