import { PanelApiError, type InstanceState, type PanelClient } from './client.ts';

/**
 * One event of `GET /api/events` (the frame's `data`). The OpenAPI document lists the types
 * (`x-events`) but not their data, so `data` is typed by the helpers that read it.
 */
export interface PanelEvent {
  id: number;
  type: string;
  user_id: string | null;
  data: unknown;
  created_at: string;
}

export interface EventStreamOptions {
  /** Only these event types (`?types=`); all the caller may see when omitted. */
  types?: string[];
  /** Resume after this event id: stored events after it are replayed first, nothing is lost in between. */
  lastEventId?: number;
  signal?: AbortSignal;
}

/** The `data` of each SSE frame of a byte stream, frame by frame (comments and `retry:` lines skipped). */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length > 0) yield data.join('\n');
    }
  }
}

/**
 * Opens the caller's event stream with the client's bearer token. Resolves once the API has
 * answered 200, by which time it is subscribed: every event published afterwards arrives.
 */
export async function openEventStream(client: PanelClient, options: EventStreamOptions = {}): Promise<AsyncGenerator<PanelEvent>> {
  const { data, error, response } = await client.GET('/api/events', {
    params: { query: { ...(options.types ? { types: options.types.join(',') } : {}), ...(options.lastEventId === undefined ? {} : { last_event_id: options.lastEventId }) } },
    headers: { Accept: 'text/event-stream' },
    parseAs: 'stream',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (error) throw new PanelApiError('GET /api/events', response.status, error);
  if (!data) throw new Error('GET /api/events answered 200 without a body');
  return (async function* events() {
    for await (const text of sseData(data)) yield JSON.parse(text) as PanelEvent;
  })();
}

export interface WaitForStateOptions {
  /** Reads the instance's state now (e.g. GET /api/game/servers/{id}); asked once the stream is open, so a change that came before it is not missed. */
  current?: () => Promise<InstanceState>;
  /** Told every state the stream brings for this instance, awaited or not (progress, logs). */
  onState?: (state: InstanceState) => void;
  /** Default two minutes. */
  timeoutMs?: number;
}

interface StateEventData {
  instance_id: string;
  state: InstanceState;
  reason?: string | null;
}

/** `instance.state` and `instance.deleted` data name the instance; a frame that does not is someone else's shape, skipped. */
function namesInstance(data: unknown): data is { instance_id: string } {
  return typeof data === 'object' && data !== null && 'instance_id' in data && typeof data.instance_id === 'string';
}

/** The state event's data as the API publishes it: an instance id and a state with its lifecycle. */
function isStateEventData(data: unknown): data is StateEventData {
  if (!namesInstance(data)) return false;
  if (!('state' in data)) return false;
  const state = data.state;
  return typeof state === 'object' && state !== null && 'lifecycle' in state && typeof state.lifecycle === 'string';
}

/**
 * Waits, over the event stream, until an instance's state satisfies `until`, and returns that
 * state. Fails when the instance lands in `failed` (unless `until` accepts it), is deleted, or
 * the time runs out; the stream is closed in every case.
 */
export async function waitForInstanceState(client: PanelClient, instanceId: string, until: (state: InstanceState) => boolean, options: WaitForStateOptions = {}): Promise<InstanceState> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const aborter = new AbortController();
  const timer = setTimeout(() => aborter.abort(), timeoutMs);
  const check = (state: InstanceState, reason?: string | null): boolean => {
    if (until(state)) return true;
    if (state.lifecycle === 'failed') throw new Error(`instance ${instanceId} failed: ${reason ?? state.error?.message ?? 'no reason given'}`);
    return false;
  };
  let last: InstanceState | undefined;
  try {
    const events = await openEventStream(client, { types: ['instance.state', 'instance.deleted'], signal: aborter.signal });
    if (options.current) {
      last = await options.current();
      if (check(last)) return last;
    }
    for await (const event of events) {
      const data = event.data;
      if (!namesInstance(data) || data.instance_id !== instanceId) continue;
      if (event.type === 'instance.deleted') throw new Error(`instance ${instanceId} was deleted`);
      if (!isStateEventData(data)) continue;
      last = data.state;
      options.onState?.(last);
      if (check(last, data.reason)) return last;
    }
    throw new Error(`the event stream ended before instance ${instanceId} reached the state awaited`);
  } catch (err) {
    if (aborter.signal.aborted) throw new Error(`instance ${instanceId} did not reach the state awaited within ${timeoutMs} ms (last: ${JSON.stringify(last ?? null)})`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
    aborter.abort();
  }
}
