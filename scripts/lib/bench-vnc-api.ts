import { post } from './bench-server.ts';

/** PANEL_RATE_LIMITS for a VNC bench's API: every limit it would hit lifted, so they do not shape the numbers. */
export const vncBenchRateLimits = JSON.stringify(
  Object.fromEntries(
    [
      'auth_login_account_ip',
      'auth_login_ip',
      'auth_login_account',
      'streamspace_api',
      'streamspace_session_create',
      'streamspace_login',
      'streamspace_login_ip',
      'streamspace_vnc_upgrade',
      'streamspace_agent_upgrade',
    ].map((n) => [n, { limit: 1e9, window_s: 60 }]),
  ),
);

/** The few StreamSpace v1 calls the VNC bench makes, as the admin of a bench server. */
export async function json(res: Response): Promise<Record<string, unknown>> {
  if (!res.ok) throw new Error(`${res.url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** A StreamSpace login token (also what a viewer passes as ?token=). */
export async function login(url: string, username: string, password: string): Promise<string> {
  return (await json(await post(`${url}/api/v1/auth/login`, { username, password }))).token as string;
}

export async function issueAgentKey(url: string, token: string, agentId: string): Promise<string> {
  return (await json(await post(`${url}/api/v1/admin/agent-keys`, { agent_id: agentId }, token))).key as string;
}

/** Creates a session and waits until it is `running`; its id. Throws if it settles otherwise. */
export async function runningSession(url: string, token: string, body: Record<string, unknown>, timeoutMs = 30_000): Promise<string> {
  const { id } = (await json(await post(`${url}/api/v1/sessions`, body, token))) as { id: string };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await json(await fetch(`${url}/api/v1/sessions/${id}`, { headers: { Authorization: `Bearer ${token}` } }));
    if (s.state === 'running') return id;
    if (s.state !== 'pending') throw new Error(`session ${id} (${JSON.stringify(body)}) is ${String(s.state)}: ${JSON.stringify(s.status)}`);
    if (Date.now() > deadline) throw new Error(`session ${id} (${JSON.stringify(body)}) still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const viewerUrl = (url: string, id: string, token: string): string => `${url.replace(/^http/, 'ws')}/vnc-viewer/${id}?token=${encodeURIComponent(token)}`;

/**
 * The port of a simulated session's VNC server, where raw TCP and the bridge connect. The API
 * keeps the agent's vnc_port to itself, so it is read from the session's logs, where the
 * simulator writes "VNC server started on port N".
 */
export async function vncPortOf(url: string, token: string, id: string): Promise<number> {
  const { logs } = (await json(await fetch(`${url}/api/v1/sessions/${id}/logs`, { headers: { Authorization: `Bearer ${token}` } }))) as { logs: string[] };
  for (const line of logs) {
    const m = /VNC server started on port (\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  throw new Error(`session ${id}: no "VNC server started on port" in its logs: ${JSON.stringify(logs.slice(-5))}`);
}
