import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../../scripts/lib/cluster.ts';
import { openSse, type SseEvent } from '../helpers/sse-client.ts';
import { isRefusal, openSocket } from '../helpers/ws-client.ts';
import { handshake, openViewer, rfbVersion } from '../plugins/streamspace/vnc-viewer.ts';
import { send, type Answer, type Call } from './cluster-helpers.ts';

/**
 * The clients of a rolling-restart test, each as a user's client would behave: it reconnects
 * when its socket or stream ends and carries on. Every HTTP answer is tallied, so the test
 * can say there was no 5xx and no failed request at all.
 */
export class Tally {
  answers = 0;
  readonly serverErrors: string[] = [];
  readonly failures: string[] = [];

  constructor(private readonly cluster: Cluster) {}

  async send(what: string, call: Call): Promise<Answer | null> {
    try {
      const answer = await send(this.cluster, call);
      this.answers += 1;
      if (answer.status >= 500) this.serverErrors.push(`${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
      return answer;
    } catch (err) {
      this.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }
}

export interface Running {
  stopped: () => boolean;
}

/** Portal reads, about 20 a second, until stopped. */
export async function readLoad(tally: Tally, run: Running, calls: Array<[string, Call]>): Promise<void> {
  for (let i = 0; !run.stopped(); i += 1) {
    const [what, call] = calls[i % calls.length] as [string, Call];
    await tally.send(what, call);
    await sleep(50);
  }
}

/** An event stream that resumes with Last-Event-ID whenever it ends; every event it got, in order. */
export async function followEvents(url: string, token: string, run: Running): Promise<{ events: SseEvent[]; connects: number; refused: string[] }> {
  const events: SseEvent[] = [];
  const refused: string[] = [];
  let connects = 0;
  while (!run.stopped()) {
    const last = events.at(-1)?.id;
    const client = await openSse(url, { Authorization: `Bearer ${token}`, ...(last ? { 'Last-Event-ID': last } : {}) }).catch((err: Error) => err);
    if (client instanceof Error || client.status !== 200) {
      refused.push(client instanceof Error ? client.message : `HTTP ${client.status}`);
      await sleep(200);
      continue;
    }
    connects += 1;
    const stop = setInterval(() => run.stopped() && client.close(), 100);
    await client.ended.catch(() => undefined);
    clearInterval(stop);
    events.push(...client.events.filter((e) => e.id !== null));
  }
  return { events, connects, refused };
}

/** A game server console that reconnects with a new ticket when closed, and says something every half second; each echo is counted. */
export async function consoleClient(
  tally: Tally,
  run: Running,
  serverId: string,
  token: string,
  origin: string,
  wsBase: string,
): Promise<{ connects: number; echoes: number; echoesPerConnect: number[]; closes: number[] }> {
  const result = { connects: 0, echoes: 0, echoesPerConnect: [] as number[], closes: [] as number[] };
  while (!run.stopped()) {
    const ticket = await tally.send('console ticket', { method: 'POST', path: `/api/game/servers/${serverId}/console/ticket`, headers: { Authorization: `Bearer ${token}` } });
    if (!ticket || ticket.status !== 201) {
      await sleep(200);
      continue;
    }
    const socket = await openSocket(`${wsBase}/api/game/servers/${serverId}/console?ticket=${encodeURIComponent(ticket.json().ticket as string)}`, { Origin: origin });
    if (isRefusal(socket)) {
      if (socket.status >= 500) tally.serverErrors.push(`console upgrade: ${socket.status} ${socket.body.code}`);
      await sleep(200);
      continue;
    }
    result.connects += 1;
    let echoes = 0;
    const closed = new Promise<number>((done) => socket.ws.once('close', (code) => done(code)));
    let open = true;
    void closed.then(() => (open = false));
    for (let n = 0; open && !run.stopped(); n += 1) {
      const word = `roll-${result.connects}-${n}`;
      socket.send({ type: 'command', command: `say ${word}` });
      const heard = await socket
        .waitFor((f) => String((f as { data?: string }).data).includes(`[chat] ${word}`), 5_000, word)
        .then(
          () => true,
          () => false,
        );
      if (heard) echoes += 1;
      await sleep(500);
    }
    if (open) socket.ws.close();
    result.closes.push(await closed);
    result.echoes += echoes;
    result.echoesPerConnect.push(echoes);
  }
  return result;
}

/** A VNC viewer that reconnects (refusals included, while the agent moves) and checks the echo every half second. */
export async function vncClient(run: Running, baseUrl: string, sessionId: string, token: string): Promise<{ connects: number; echoesPerConnect: number[]; closes: number[] }> {
  const result = { connects: 0, echoesPerConnect: [] as number[], closes: [] as number[] };
  while (!run.stopped()) {
    const viewer = await openViewer(baseUrl, sessionId, token).catch(() => null);
    if (!viewer) {
      await sleep(200);
      continue;
    }
    result.connects += 1;
    let open = true;
    void viewer.closed.then(() => (open = false));
    let echoes = 0;
    try {
      await handshake(viewer);
      let expected = rfbVersion.length;
      for (let n = 0; open && !run.stopped(); n += 1) {
        const word = Buffer.from(`vnc-${n};`);
        viewer.ws.send(word, { binary: true });
        expected += word.length;
        const got = await viewer.waitBytes(expected, 5_000).then(
          (b) => b,
          () => null,
        );
        if (got && got.subarray(expected - word.length).equals(word)) echoes += 1;
        await sleep(500);
      }
    } catch {
      // The handshake did not complete: the viewer closed first; reconnect.
    }
    if (open) viewer.ws.close();
    result.closes.push((await viewer.closed).code);
    result.echoesPerConnect.push(echoes);
  }
  return result;
}
