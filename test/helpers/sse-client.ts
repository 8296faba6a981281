export interface SseEvent {
  id: string | null;
  event: string | null;
  data: string;
}

export interface SseClient {
  status: number;
  events: SseEvent[];
  comments: number;
  waitFor(predicate: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent>;
  close(): void;
  ended: Promise<void>;
}

/** A minimal EventSource over fetch: parses frames as they arrive. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const aborter = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: aborter.signal });
  const events: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  const client: SseClient = {
    status: res.status,
    events,
    comments: 0,
    close: () => aborter.abort(),
    ended: Promise.resolve(),
    waitFor: (predicate, ms = 5_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(events.map((e) => e.event))}`)), ms);
        const check = () => {
          const found = events.find(predicate);
          if (!found) return false;
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const wait = (): void => {
          if (!check()) waiters.push(wait);
        };
        wait();
      }),
  };
  if (!res.body || res.status !== 200) return client;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  client.ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { id: null, event: null, data: '' };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments += 1;
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              event.data += line.slice(6);
              hasData = true;
            }
          }
          if (hasData) {
            events.push(event);
            for (const wake of waiters.splice(0)) wake();
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return client;
}
