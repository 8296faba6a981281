import { request } from 'node:http';
import { post, type BenchServer } from './bench-server.ts';
import type { Target } from './bench-ide-load.ts';

async function get(url: string, token: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A dev container on the bench server with its IDE (the stand-in) running, and an IDE session:
 * `direct` is the IDE's own port, `proxied` the API's port with the dev-<vmid> Host, the session
 * cookie and a same-origin Origin, as a browser on the hosted IDE sends them.
 */
export async function ideSession(server: BenchServer): Promise<{ id: string; direct: Target; proxied: Target }> {
  const created = (await (await post(`${server.url}/api/dev`, { name: 'bench' }, server.adminToken)).json()) as { container: { id: string; vmid: number } };
  const { id, vmid } = created.container;
  await waitFor(
    'the container to be active',
    async () => ((await get(`${server.url}/api/dev/${id}`, server.adminToken)).container as { state: { lifecycle: string } }).state.lifecycle === 'active' || undefined,
  );
  await post(`${server.url}/api/dev/${id}/codeserver/start`, {}, server.adminToken);
  const port = await waitFor('the IDE to run', async () => {
    const c = (await get(`${server.url}/api/dev/${id}`, server.adminToken)).container as { state: { details: { codeserver?: { state: string; port: number } } } };
    return c.state.details.codeserver?.state === 'running' ? c.state.details.codeserver.port : undefined;
  });
  const link = new URL(((await (await post(`${server.url}/api/dev/${id}/ide-token`, {}, server.adminToken)).json()) as { url: string }).url);
  const apiPort = Number(new URL(server.url).port);
  const host = `dev-${vmid}.localhost`;
  const cookie = await new Promise<string>((resolve, reject) => {
    request({ port: apiPort, path: `/${link.search}`, headers: { Host: host } }, (res) => {
      res.resume();
      resolve((res.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '');
    })
      .on('error', reject)
      .end();
  });
  return { id, direct: { port, headers: {} }, proxied: { port: apiPort, headers: { Host: host, Cookie: cookie, Origin: `http://${host}` } } };
}

/** Deletes the container and gives its agent a moment to go. */
export async function removeIdeSession(server: BenchServer, id: string): Promise<void> {
  await fetch(`${server.url}/api/dev/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${server.adminToken}` } });
  await new Promise((r) => setTimeout(r, 2000));
}
