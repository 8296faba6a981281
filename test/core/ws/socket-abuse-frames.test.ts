import test, { type ExecutionContext } from 'ava';
import { shippedPlugins } from '../../../plugins/index.ts';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { expectOpen, openSocket, type TestSocket } from '../../helpers/ws-client.ts';
import { stillServes } from '../../helpers/raw-http.ts';
import { issueKey, openAgentSocket, registerMessage, uniq } from '../../plugins/streamspace/raw-agent.ts';
import { v1Admin } from '../../plugins/streamspace/ss-helpers.ts';

// Oversized and fragmented frames on authenticated sockets: past the route's maxPayload the
// socket is closed with 1009 (whether the message came whole or in fragments), under it the
// fragments are put back together, and the server carries on.

let app: TestApp;

test.before(async () => {
  app = await startTestApp({ plugins: [examplePlugin, ...shippedPlugins] });
});

test.after.always(async () => {
  await app?.close();
});

const maxPayloadOf = (path: string): number => {
  const mounted = app.server.websockets.find((m) => m.fullPath === path);
  if (!mounted) throw new Error(`no WebSocket route ${path}`);
  return mounted.route.maxPayloadBytes ?? 64 * 1024;
};

interface Target {
  path: string;
  /** An authenticated socket, a small valid message for it, and what shows the route acted on the whole of that message. */
  open(): Promise<{ socket: TestSocket; message: string; acted: () => Promise<unknown> }>;
}

const targets: Target[] = [
  {
    path: '/api/example/echo',
    open: async () => {
      const socket = expectOpen(await openSocket(`${app.url.replace('http', 'ws')}/api/example/echo?ticket=good`));
      await socket.waitFor((f) => (f as { type?: string }).type === 'hello');
      const message = 'hello in five fragments';
      return { socket, message, acted: () => socket.waitFor((f) => f === message, 5_000, 'the echo of the whole message') };
    },
  },
  {
    path: '/agent/ws',
    open: async () => {
      const admin = await v1Admin(app);
      const agentId = uniq('frames');
      const key = await issueKey(app, admin, agentId);
      const socket = expectOpen(await openAgentSocket(app, agentId, 'docker', { Authorization: `Bearer ${key}` }));
      const message = JSON.stringify(registerMessage(agentId, 'docker'));
      return { socket, message, acted: () => socket.waitFor((f) => (f as { type?: string }).type === 'register_ack', 5_000, 'register_ack') };
    },
  },
];

function sendFragments(socket: TestSocket, parts: Array<string | Buffer>): void {
  parts.forEach((part, i) => socket.ws.send(part, { fin: i === parts.length - 1, binary: false }));
}

async function assertClosedWith1009(t: ExecutionContext, socket: TestSocket, what: string): Promise<void> {
  const timer = setTimeout(() => socket.ws.terminate(), 5_000);
  const { code } = await socket.closed;
  clearTimeout(timer);
  t.is(code, 1009, `${what}: closed with 1009 (message too big)`);
}

for (const target of targets) {
  test(`${target.path}: one frame a byte over maxPayload is closed with 1009`, async (t) => {
    const max = maxPayloadOf(target.path);
    const { socket } = await target.open();
    socket.ws.send(Buffer.alloc(max + 1, 0x61), { binary: false });
    await assertClosedWith1009(t, socket, `${max + 1} bytes`);
    t.is(await stillServes(app.url), 200);
  });

  test(`${target.path}: fragments adding up past maxPayload are closed with 1009`, async (t) => {
    const max = maxPayloadOf(target.path);
    const { socket } = await target.open();
    const fragment = Buffer.alloc(16 * 1024, 0x61);
    const count = Math.ceil((max + 1) / fragment.length) + 1;
    t.log(`${target.path}: maxPayload ${max} bytes, ${count} fragments of ${fragment.length}`);
    sendFragments(
      socket,
      Array.from({ length: count }, () => fragment),
    );
    await assertClosedWith1009(t, socket, `${count} fragments`);
    t.is(await stillServes(app.url), 200);
  });

  test(`${target.path}: a small message in fragments is put back together`, async (t) => {
    const { socket, message, acted } = await target.open();
    const size = Math.ceil(message.length / 5);
    sendFragments(
      socket,
      Array.from({ length: 5 }, (_, i) => message.slice(i * size, (i + 1) * size)),
    );
    await acted();
    socket.ws.close();
    t.pass();
  });
}

test('every WebSocket route the dispatcher answers itself has a maxPayload; raw-proxied ones are named', (t) => {
  const bounds = app.server.websockets.map((m) => `${m.owner} ${m.fullPath ?? 'host'}: ${m.route.onUpgrade ? 'proxied raw' : `${m.route.maxPayloadBytes ?? 64 * 1024} bytes`}`);
  t.log(bounds.join('; '));
  t.true(
    app.server.websockets.some((m) => m.owner === 'game'),
    'every shipped plugin is mounted',
  );
  for (const m of app.server.websockets) {
    if (m.route.onUpgrade) continue;
    // Only replicas open relays (a signed token); what browsers and agents open takes at most 4 MiB a message.
    const ceiling = m.fullPath === '/internal/relay/:channel' ? 16 * 1024 * 1024 : 4 * 1024 * 1024;
    t.true((m.route.maxPayloadBytes ?? 64 * 1024) <= ceiling, `${m.fullPath}: at most ${ceiling} bytes a message`);
  }
});
