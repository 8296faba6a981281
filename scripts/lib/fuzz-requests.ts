import { gzipSync } from 'node:zlib';
import type { FuzzRequest } from './fuzz-http.ts';
import type { Mutation } from './fuzz-mutations.ts';
import type { Operation } from './fuzz-operations.ts';
import { queryText } from './fuzz-values.ts';

/** What a case is built from: schema-made values, then one mutation. */
export interface Draft {
  /** Path parameter values, as generated (or the stand's real ids). */
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  authorization: string | undefined;
  requestId: string;
  mutation: Mutation;
}

const rawMarker = (n: number): string => `\u0007raw${n}\u0007`;

/** JSON text where marked values are written as given (number literals JSON.stringify cannot make). */
function jsonText(value: unknown, raws: string[]): string {
  let text = JSON.stringify(value) ?? 'null';
  raws.forEach((raw, n) => (text = text.replace(JSON.stringify(rawMarker(n)), raw)));
  return text;
}

/** Percent-encodes like encodeURIComponent, except that a lone surrogate goes out as its WTF-8 bytes: invalid UTF-8 on purpose. */
export function percentEncode(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[^\ud800-\udfff]+|[\ud800-\udbff][\udc00-\udfff]/g, (part) => {
    if (part.length !== 1 || part.charCodeAt(0) < 0xd800 || part.charCodeAt(0) > 0xdfff) return encodeURIComponent(part);
    const c = part.charCodeAt(0);
    return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  });
}

/** The value with a NUL inside: in a string, in each string of an array, or a string of its own. */
function nulInto(value: unknown): unknown {
  if (typeof value === 'string') return `${value.slice(0, 1)}\u0000${value.slice(1)}`;
  if (Array.isArray(value) && value.length > 0) return value.map(nulInto);
  if (isObject(value) && Object.keys(value).length > 0) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, nulInto(v)]));
  return 'a\u0000b';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The body's top-level keys, or the one key a mutation adds when it has none. */
function keyAt(body: unknown, at: number): string {
  const keys = isObject(body) ? Object.keys(body) : [];
  return keys.length === 0 ? 'field' : (keys[at % keys.length] as string);
}

function deep(depth: number, shape: 'array' | 'object'): string {
  return shape === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** The request a draft stands for: path, query, headers and body bytes, with its mutation applied. */
export function buildRequest(op: Operation, draft: Draft, bodyLimitBytes: number): FuzzRequest {
  const m = draft.mutation;
  const params = { ...draft.params };
  if (m.kind === 'bad-param' && op.pathParams.length > 0) {
    const p = op.pathParams[m.at % op.pathParams.length] as { name: string };
    params[p.name] = m.segment;
  }
  if (m.kind === 'nul' && m.target === 'param' && op.pathParams.length > 0) {
    const p = op.pathParams[m.at % op.pathParams.length] as { name: string };
    params[p.name] = `${percentEncode(draft.params[p.name] ?? '')}%00`;
  }
  const path = op.path.replace(/\{([^}]+)\}/g, (_all, name: string) => (params[name] !== draft.params[name] ? (params[name] as string) : percentEncode(params[name] ?? '')));
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(draft.query)) for (const text of queryText(value)) pairs.push([name, text]);
  if ((m.kind === 'string' && m.target === 'query') || (m.kind === 'nul' && m.target === 'query') || m.kind === 'repeat-query') {
    const name = op.query.length > 0 ? (op.query[m.at % op.query.length] as { name: string }).name : 'q';
    if (m.kind === 'repeat-query') pairs.push([name, m.value], [name, m.value === '' ? 'x' : '']);
    else {
      const kept = pairs.filter(([n]) => n !== name);
      const old = pairs.find(([n]) => n === name)?.[1] ?? 'a';
      pairs.length = 0;
      pairs.push(...kept, [name, m.kind === 'nul' ? `${old}\u0000b` : m.value]);
    }
  }
  const search = pairs.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&');
  const headers: Record<string, string> = {};
  if (draft.authorization !== undefined) headers.Authorization = draft.authorization;
  if (m.kind === 'request-id') {
    if (m.value !== null) headers['X-Request-Id'] = m.value.replace(/[^\t\x20-\x7e]/g, '');
  } else headers['X-Request-Id'] = draft.requestId;

  let body: Buffer | undefined;
  if (op.body?.kind === 'json') {
    headers['Content-Type'] = 'application/json';
    let value = draft.body;
    const raws: string[] = [];
    if (m.kind === 'wrong-type' || m.kind === 'string' || m.kind === 'number' || m.kind === 'nul') {
      if ((m.kind !== 'string' && m.kind !== 'nul') || m.target === 'body') {
        const key = keyAt(value, m.at);
        const old = isObject(value) ? value[key] : undefined;
        const replacement = m.kind === 'number' ? (raws.push(m.literal), rawMarker(0)) : m.kind === 'nul' ? nulInto(old) : m.value;
        value = { ...(isObject(value) ? value : {}), [key]: replacement };
      }
    } else if (m.kind === 'drop-field' && isObject(value)) {
      const copy = { ...value };
      delete copy[keyAt(value, m.at)];
      value = copy;
    } else if (m.kind === 'extra-field') {
      // Parsed, so `__proto__` stays an own key of the body (as JSON.parse makes it on the server).
      const extra = JSON.parse(`{${JSON.stringify(m.name)}:${JSON.stringify(m.value) ?? 'null'}}`) as object;
      value = { ...(isObject(draft.body) ? draft.body : {}), ...extra };
    } else if (m.kind === 'array-for-object') value = [value];
    let text = jsonText(value, raws);
    if (m.kind === 'deep-json') text = deep(m.depth, m.shape);
    if (m.kind === 'invalid-json') text = m.text;
    if (m.kind === 'duplicate-key') {
      const key = keyAt(value, 0);
      const repeated = JSON.stringify(isObject(value) && key in value ? value[key] : 'x');
      text = text === '{}' ? `{"${key}":${repeated},"${key}":${repeated}}` : text.replace(/^\{/, `{${JSON.stringify(key)}:${repeated},`);
    }
    if (m.kind === 'too-large') text = JSON.stringify({ padding: 'x'.repeat(bodyLimitBytes + 16) });
    body = Buffer.from(text, 'utf8');
  } else if (op.body?.kind === 'raw') {
    headers['Content-Type'] = 'application/octet-stream';
    body = Buffer.from(typeof draft.body === 'string' ? draft.body : JSON.stringify(draft.body ?? ''), 'utf8');
  }
  if (body !== undefined) {
    if (m.kind === 'invalid-utf8') {
      const at = Math.max(0, body.indexOf('"') + 1);
      body = Buffer.concat([body.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), body.subarray(at)]);
    }
    if (m.kind === 'content-type') headers['Content-Type'] = m.value;
    if (m.kind === 'encoding') {
      headers['Content-Encoding'] = m.value;
      if (m.bytes === 'garbage') body = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, ...body.subarray(0, 32)]);
      if (m.bytes === 'gzip') body = gzipSync(body);
    }
  }
  return { method: op.method, path: search === '' ? path : `${path}?${search}`, headers, body };
}
