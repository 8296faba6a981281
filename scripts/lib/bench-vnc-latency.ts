import { percentile } from './bench-server.ts';
import { encodings, keysyms, RfbClient } from './rfb-client.ts';
import type { OpenedTransport } from './rfb-transport.ts';

/** Opens a fresh transport to one desktop: through the relay, the bridge, … */
export type Connect = () => Promise<OpenedTransport>;

export interface Percentiles {
  p50: number;
  p99: number;
}

/** How long an input may take to show before the sample counts as lost. */
const updateTimeoutMs = 2_000;
/** No update for this long after a request: nothing is left to send (the server holds the request). */
const quietMs = 40;

const round = (n: number): number => Math.round(n * 100) / 100;
export const median = (values: number[]): number =>
  round(
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    ),
  );
export const percentiles = (values: number[]): Percentiles => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
};

/** An RFB client that has done the handshake and asked for Raw only. */
export async function openRfb(connect: Connect): Promise<{ client: RfbClient; startedAt: number; openedAt: number }> {
  const { transport, startedAt, openedAt } = await connect();
  const client = new RfbClient(transport);
  await client.handshake();
  client.setEncodings([encodings.raw]);
  return { client, startedAt, openedAt };
}

/** One fresh connection's first screen, in ms from the WebSocket's `open` (the TCP connect) but for `openMs`. */
export interface FirstUpdateTiming {
  /** From asking for the WebSocket (TCP connection) to its `open`: the upgrade, with the relay's authorization. */
  openMs: number;
  /** To ServerInit. */
  serverInitMs: number;
  /** To the first byte of the first FramebufferUpdate. */
  startMs: number;
  /** To its last byte. */
  ms: number;
  bytes: number;
}

/**
 * The first FramebufferUpdate of a fresh connection, a full (non-incremental) one asked for
 * right after ServerInit; the connection is closed after.
 */
export async function timeFirstUpdate(connect: Connect): Promise<FirstUpdateTiming> {
  const { client, startedAt, openedAt } = await openRfb(connect);
  const serverInitMs = performance.now() - openedAt;
  try {
    const pending = client.nextUpdate(30_000);
    client.requestUpdate(false);
    const update = await pending;
    if (!update) throw new Error('no first FramebufferUpdate within 30 s');
    return { openMs: openedAt - startedAt, serverInitMs, startMs: update.startedAt - openedAt, ms: update.completedAt - openedAt, bytes: update.bytes };
  } finally {
    await client.close();
  }
}

/**
 * Leaves one incremental FramebufferUpdateRequest outstanding with nothing left to send:
 * asks, takes what comes (damage from while this client was not asking), asks again, until quiet.
 */
export async function settle(client: RfbClient): Promise<void> {
  for (;;) {
    const next = client.nextUpdate(quietMs);
    client.requestUpdate(true);
    if ((await next) === null) return;
  }
}

/** One input that changes the screen; `release` undoes the press state (not the screen change). */
export interface Input {
  kind: 'key' | 'pointer';
  description: string;
  press(client: RfbClient, i: number): void;
  release(client: RfbClient, i: number): void;
}

/** The pointer over the xterm (without a window manager the keyboard focus follows it). */
export const pointerHome = { x: 400, y: 300 };

const typed = [keysyms.a, keysyms.backSpace];
/** Typing into xterm: 'a', then BackSpace, alternately, so the line does not grow; each press is echoed. */
export const keyInput: Input = {
  kind: 'key',
  description: "KeyEvent press of 'a' and BackSpace alternately, typed into xterm (its echo is the update); release sent after the update",
  press: (client, i) => client.key(typed[i % 2] as number, true),
  release: (client, i) => client.key(typed[i % 2] as number, false),
};

/** Moving the pointer a few pixels and back: Xvnc draws the cursor into the framebuffer for a client without the Cursor pseudo-encoding. */
let pointerMoves = 0;
export const pointerInput: Input = {
  kind: 'pointer',
  description: 'PointerEvent moving the pointer 4 px right and back alternately over xterm (Xvnc renders the cursor into the framebuffer)',
  // Every move goes to the other position, whichever client sends it, so each one changes the screen.
  press: (client) => client.pointer(pointerHome.x + (pointerMoves++ % 2 === 0 ? 4 : 0), pointerHome.y),
  release: () => undefined,
};

/** Milliseconds from sending the input to the end of the FramebufferUpdate it caused; null when none came. */
export async function timeInput(client: RfbClient, input: Input, i: number): Promise<number | null> {
  await settle(client);
  const update = client.nextUpdate(updateTimeoutMs);
  const sentAt = performance.now();
  input.press(client, i);
  const got = await update;
  input.release(client, i);
  return got ? got.completedAt - sentAt : null;
}

/** Whether `input` visibly changes this desktop (it settles the screen first). */
export async function inputWorks(client: RfbClient, input: Input): Promise<boolean> {
  client.pointer(pointerHome.x, pointerHome.y);
  for (let i = 0; i < 4; i += 1) if ((await timeInput(client, input, i)) === null) return false;
  return true;
}

export interface InterleavedResult {
  latencies: Record<string, number[]>;
  lost: Record<string, number>;
}

/**
 * `samples` inputs on each client, alternating between them (a, b, a, b, …) so machine noise
 * hits each alike, after `warmup` unmeasured rounds. Only the client measured has a request
 * outstanding at the time of its input; the others catch up (and settle) on their turn.
 */
export async function interleavedLatency(clients: Record<string, RfbClient>, input: Input, samples: number, warmup: number): Promise<InterleavedResult> {
  const names = Object.keys(clients);
  const latencies: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const lost: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (let round = 0; round < warmup + samples; round += 1) {
    // Every client types the same key in a round ('a' in one, BackSpace in the next), so each path measures both alike.
    for (const name of names) {
      const ms = await timeInput(clients[name] as RfbClient, input, round);
      if (round < warmup) continue;
      if (ms === null) (lost[name] as number) += 1;
      else latencies[name]?.push(ms);
    }
  }
  return { latencies, lost };
}
