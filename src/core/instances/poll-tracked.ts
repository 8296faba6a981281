import type { AgentTarget } from '../agent/agent-client.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { emptyPolledState, type Lifecycle, type PolledState } from './instance-state.ts';
import type { PolledRow } from './poll-share.ts';

/** One instance as the poller holds it in memory: where its agent is, what it said last, when to ask again. */
export interface Tracked {
  id: string;
  ownerId: string;
  kind: string;
  plugin: string;
  lifecycle: Lifecycle;
  target: AgentTarget;
  sealedToken: string;
  polled: PolledState;
  nextPollAt: number;
  failures: number;
  inFlight: Promise<void> | null;
  dirty: boolean;
  writtenAt: number;
}

/**
 * A tracked entry for a row: what an existing entry knew carries over (its last poll, its
 * schedule), otherwise the stored state and a first poll at `firstPollAt`.
 */
export function trackedFrom(row: PolledRow, box: SecretBox, stored: Partial<PolledState> | undefined, existing: Tracked | undefined, firstPollAt: number): Tracked {
  return {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind,
    plugin: row.plugin,
    lifecycle: row.lifecycle,
    target: { baseUrl: row.agent_base_url, token: box.open(row.agent_token_encrypted) },
    sealedToken: row.agent_token_encrypted,
    polled: existing?.polled ?? { ...emptyPolledState, ...stored },
    nextPollAt: existing?.nextPollAt ?? firstPollAt,
    failures: existing?.failures ?? 0,
    inFlight: existing?.inFlight ?? null,
    dirty: false,
    writtenAt: Date.now(),
  };
}
