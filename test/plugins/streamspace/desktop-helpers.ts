import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesktopAgent, type DesktopAgentOptions } from '../../../scripts/lib/desktop-agent.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { call, v1, waitFor, type Loose, type V1Session } from './ss-helpers.ts';

let agents = 0;

/** A desktop agent in this process (a new key unless `key` is given) on a fresh data directory, in a region of its own (so a test's sessions land only there). */
export async function connectDesktopAgent(app: TestApp, admin: V1Session, options: Partial<DesktopAgentOptions> = {}): Promise<{ agent: DesktopAgent; agentId: string; dataDir: string; key: string }> {
  agents += 1;
  const agentId = options.agentId ?? `desktop-${process.pid}-${agents}`;
  let key = options.key;
  if (key === undefined) {
    const issued = await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: agentId });
    if (issued.status !== 201) throw new Error(`issue key: ${issued.status} ${JSON.stringify(issued.body)}`);
    key = issued.body.key as string;
  }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'panel-desktops-'));
  const agent = new DesktopAgent({ url: app.url, region: agentId, watchEveryMs: 100, ...options, key, agentId, dataDir });
  await agent.start();
  return { agent, agentId, dataDir, key };
}

/** Ends every desktop the agent holds and removes its data directory. */
export async function removeDesktopAgent(agent: DesktopAgent, dataDir: string): Promise<void> {
  await agent.shutdown(true);
  rmSync(dataDir, { recursive: true, force: true });
}

/** Creates a session of `template` on the agent of that region and waits for `running`. */
export async function runningDesktop(app: TestApp, token: string, region: string, body: Record<string, unknown> = {}): Promise<Loose> {
  const created = await call(app, 'POST', `${v1}/sessions`, token, { template: 'xterm-desktop', platform: 'local', region, ...body });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  const settled = await waitFor(
    `session ${id} to leave pending`,
    async () => {
      const res = await call(app, 'GET', `${v1}/sessions/${id}`, token);
      return res.body?.state !== 'pending' ? res.body : null;
    },
    20_000,
  );
  if (settled.state !== 'running') throw new Error(`session ${id} is ${settled.state}: ${JSON.stringify(settled.status)}`);
  return settled;
}

/** The environment a live process runs with (from /proc). */
export function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** The process group of a live process (field 5 of /proc/<pid>/stat). */
export function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Pids of processes whose command line contains `needle`. */
export function pidsWith(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

export async function sessionLogs(app: TestApp, token: string, id: string): Promise<string[]> {
  return waitFor(`logs of ${id}`, async () => {
    const res = await call(app, 'GET', `${v1}/sessions/${id}/logs`, token);
    return res.status === 200 ? (res.body.logs as string[]) : null;
  });
}
