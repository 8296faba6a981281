import type { DeepPartial } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import type { TestApp } from './start-test-app.ts';
import type { Session } from './auth.ts';
import { bearer, json } from './auth.ts';
import type { FakeAgents } from '../fakes/fake-agents.ts';

/** Fast polling and short deadlines, so state changes show within a second. */
export const fastAgents: DeepPartial<Config> = {
  provisioner: 'static',
  // Timeouts leave room for a loaded CI machine; the fault tests make faults slower than them.
  agents: { poll_interval_ms: 500, poll_timeout_ms: 1_000, poll_connect_timeout_ms: 500, action_timeout_ms: 3_000, max_backoff_ms: 2_000, provision_deadline_ms: 4_000, breaker_cooldown_ms: 200 },
};

/** Registers a fake agent in the static pool through the admin API. */
export async function registerAgent(app: TestApp, admin: Session, fakes: FakeAgents, options: Parameters<FakeAgents['add']>[0] = {}): Promise<{ id: string; poolId: string }> {
  const agent = fakes.add(options);
  const res = await app.request('/api/admin/agents', bearer(admin.access_token, json({ name: agent.id, base_url: agent.baseUrl, token: agent.token, kind: 'any' })));
  if (res.status !== 201) throw new Error(`registering ${agent.id} answered ${res.status}: ${await res.text()}`);
  return { id: agent.id, poolId: ((await res.json()) as { agent: { id: string } }).agent.id };
}

/** Resolves once `check` passes, polling every 50 ms; fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, ms = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
