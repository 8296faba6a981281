import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { option, post, startBenchServer } from './lib/bench-server.ts';
import { SimAgent } from './lib/streamspace-sim-agent.ts';

const help = `Usage: npm run bench:vnc -- [--size-mib N] [--viewers N]

Measures the StreamSpace VNC relay. Starts the API (embedded database) as a child process
and a simulated agent in pattern mode (its VNC server streams bytes as fast as they are
read), then:
  1. after a 64 MiB warm-up each way, reads N MiB (default 1024) from the session's VNC server directly over TCP, and the
     same through /vnc-viewer/{id} (viewer -> API -> agent socket -> VNC server), in MB/s;
  2. opens --viewers viewers (default 20) on their own sessions that never read, waits 3 s,
     and reports the API's RSS growth: each stream may hold at most its 1 MiB credit, so the
     growth stays bounded however long they stall.
All traffic stays on 127.0.0.1.

Options:
  --size-mib <n>   bytes to read per throughput run, in MiB (default 1024)
  --viewers <n>    stalled viewers for the memory run (default 20)
  -h, --help       show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
let bytes = Number(option(args, '--size-mib') ?? 1024) * 1024 * 1024;
const stalled = Number(option(args, '--viewers') ?? 20);
const hello = Buffer.from('RFB 003.008\n');

const rssMiB = (pid: number): number => Number((readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) ?? [])[1] ?? 0) / 1024;

async function json(res: Response): Promise<Record<string, unknown>> {
  if (!res.ok) throw new Error(`${res.url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Reads `bytes` after the RFB handshake; seconds taken. */
function readDirect(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = -hello.length;
    let started = 0;
    socket.once('data', () => {
      socket.write(hello);
      started = performance.now();
    });
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= bytes) {
        socket.destroy();
        resolve((performance.now() - started) / 1000);
      }
    });
    socket.on('error', reject);
  });
}

function openViewer(url: string, id: string, token: string, read: boolean): Promise<{ ws: WebSocket; seconds: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/vnc-viewer/${id}?token=${token}`);
    let got = -hello.length;
    let started = 0;
    let done: (s: number) => void = () => undefined;
    const seconds = new Promise<number>((r) => (done = r));
    ws.on('message', (data: Buffer) => {
      if (started === 0) {
        ws.send(hello);
        started = performance.now();
        if (!read) ws.pause();
      }
      got += data.length;
      if (got >= bytes) {
        ws.close();
        done((performance.now() - started) / 1000);
      }
    });
    ws.on('open', () => resolve({ ws, seconds }));
    ws.on('error', reject);
  });
}

const server = await startBenchServer(undefined, {
  PANEL_RATE_LIMITS: JSON.stringify(Object.fromEntries(['auth_login_account_ip', 'auth_login_ip', 'auth_login_account', 'streamspace_api', 'streamspace_session_create', 'streamspace_login', 'streamspace_login_ip', 'streamspace_vnc_upgrade', 'streamspace_agent_upgrade'].map((n) => [n, { limit: 1e9, window_s: 60 }]))),
  LOG_LEVEL: 'warn',
});
let agent: SimAgent | null = null;
try {
  const { token } = (await json(await post(`${server.url}/api/v1/auth/login`, { username: 'admin', password: 'bench-admin-password' }))) as { token: string };
  const { key } = (await json(await post(`${server.url}/api/v1/admin/agent-keys`, { agent_id: 'bench-agent' }, token))) as { key: string };
  agent = new SimAgent({ url: server.url, agentId: 'bench-agent', key, mode: 'pattern', maxSessions: stalled + 2, commandDelayMs: 0 });
  await agent.start();
  const running = async (): Promise<string> => {
    const { id } = (await json(await post(`${server.url}/api/v1/sessions`, { template: 'firefox-browser' }, token))) as { id: string };
    for (;;) {
      const s = await json(await fetch(`${server.url}/api/v1/sessions/${id}`, { headers: { Authorization: `Bearer ${token}` } }));
      if (s.state === 'running') return id;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const id = await running();
  const port = agent.sessions.get(id)?.port as number;
  // Warm up both paths (JIT, socket buffers), then measure.
  const measured = bytes;
  bytes = 64 * 1024 * 1024;
  await readDirect(port);
  await (await openViewer(server.url, id, token, true)).seconds;
  bytes = measured;
  const direct = await readDirect(port);
  const relayed = await (await openViewer(server.url, id, token, true)).seconds;
  const mb = bytes / 1e6;
  process.stdout.write(`throughput (${bytes / 1048576} MiB): direct ${(mb / direct).toFixed(0)} MB/s, through the API ${(mb / relayed).toFixed(0)} MB/s (${((direct / relayed) * 100).toFixed(0)}% of direct)\n`);

  const before = rssMiB(server.pid);
  const ids = await Promise.all(Array.from({ length: stalled }, () => running()));
  const viewers = await Promise.all(ids.map((sid) => openViewer(server.url, sid, token, false)));
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssMiB(server.pid);
  process.stdout.write(`memory: ${stalled} viewers that never read: API RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB (+${(after - before).toFixed(1)} MiB, ${((after - before) / stalled).toFixed(2)} MiB per stalled stream; the credit bounds it at 1 MiB each plus socket buffers)\n`);
  for (const v of viewers) v.ws.terminate();
} finally {
  await agent?.stop();
  server.stop();
}
