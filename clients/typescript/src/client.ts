import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

/** The body of every non-2xx answer of the panel (docs/api.md, "The error envelope"). */
export type ErrorEnvelope = components['schemas']['Error'];

/** An instance's normalized state, as game servers and dev containers carry it. */
export type InstanceState = paths['/api/game/servers/{id}']['get']['responses'][200]['content']['application/json']['server']['state'];

export interface PanelClientOptions {
  /** The access token to send as `Authorization: Bearer`, or a function asked before every request (so a refreshed token is picked up). */
  token?: string | (() => string | null | undefined);
  /** Another fetch (tests, proxies, retries). */
  fetch?: (input: Request) => Promise<Response>;
  /** Headers sent with every request, e.g. `X-Request-Id`. */
  headers?: Record<string, string>;
}

export type PanelClient = Client<paths> & {
  /** The API's base URL, as given (no trailing slash). */
  readonly baseUrl: string;
  /** Replaces the bearer token, e.g. after POST /api/auth/login or /api/auth/refresh; null stops sending one. */
  setToken(token: string | null): void;
};

/**
 * A typed client of the panel's HTTP API: every path, parameter, body and answer of
 * `GET /openapi.json`, with `{ data, error }` results where `error` is the error envelope.
 */
export function createPanelClient(baseUrl: string, options: PanelClientOptions = {}): PanelClient {
  const base = baseUrl.replace(/\/+$/, '');
  let token = options.token;
  const client = createClient<paths>({ baseUrl: base, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.headers ? { headers: options.headers } : {}) });
  const bearer: Middleware = {
    onRequest({ request }) {
      const value = typeof token === 'function' ? token() : token;
      // A header the caller set on one request (another user's token, say) wins over the client's.
      if (value && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${value}`);
      return request;
    },
  };
  client.use(bearer);
  return Object.assign(client, {
    baseUrl: base,
    setToken(next: string | null) {
      token = next ?? undefined;
    },
  });
}

/** A refused request, carrying the envelope so callers can branch on `code` (the stable part). */
export class PanelApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly envelope: ErrorEnvelope;

  constructor(what: string, status: number, envelope: ErrorEnvelope) {
    super(`${what} answered ${status} ${envelope.code}: ${envelope.message} (request ${envelope.request_id})`);
    this.name = 'PanelApiError';
    this.status = status;
    this.code = envelope.code;
    this.envelope = envelope;
  }
}
