import { z } from 'zod';
import { workloadStates, type Status } from '../../contracts/agent.ts';
import type { AppError } from '../http/errors.ts';
import { isAgentReadyResult, notReadyReason, type AgentReadyResult } from '../agent/readiness.ts';

/** The panel's lifecycles: the one list that every schema, filter and check of a lifecycle uses. */
export const lifecycles = ['provisioning', 'active', 'failed', 'suspended', 'restoring_backup', 'deleting'] as const;
export type Lifecycle = (typeof lifecycles)[number];
export const lifecycleSchema = z.enum(lifecycles);

/** Lifecycles in which the instance has a running agent (polled, adopted, asked for logs and backups); not provisioning, failed or deleting. */
export const withAgentLifecycles: readonly Lifecycle[] = ['active', 'suspended', 'restoring_backup'];

/** What the agent last reported its workload doing, or `unknown` when it did not answer. */
export const agentStatusSchema = z.enum([...workloadStates, 'unknown']);

export const instanceStateSchema = z
  .object({
    lifecycle: lifecycleSchema,
    reachable: z.boolean(),
    ready: z.boolean(),
    status: agentStatusSchema,
    last_seen_at: z.iso.datetime().nullable(),
    checked_at: z.iso.datetime().nullable(),
    stale: z.boolean(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'InstanceState' });
export type InstanceState = z.infer<typeof instanceStateSchema>;

/** What the poller stores: the state without `lifecycle` (the panel's) and `stale` (computed on read). */
export interface PolledState {
  reachable: boolean;
  ready: boolean;
  status: InstanceState['status'];
  last_seen_at: string | null;
  checked_at: string | null;
  /** When a poll last fully succeeded; drives `stale`. */
  last_ok_at: string | null;
  error: InstanceState['error'];
  details: Record<string, unknown>;
}

export const emptyPolledState: PolledState = { reachable: false, ready: false, status: 'unknown', last_seen_at: null, checked_at: null, last_ok_at: null, error: null, details: {} };

export interface PollOutcome {
  ready: AgentReadyResult;
  status: { ok: true; body: Status } | { ok: false; error: AppError };
  health: { ok: true } | { ok: false; error: AppError };
}

const errorOf = (e: AppError) => ({ code: e.code, message: e.message });

/** Turns one poll's three answers into the normalized state (API.md), keeping the last good snapshot. */
export function normalizePoll(outcome: PollOutcome, previous: PolledState, now: Date): PolledState {
  const at = now.toISOString();
  // Reached means something answered, even garbage; only refused, reset or silent agents are unreachable.
  const transport = (e: AppError) => e.code === 'AGENT_UNREACHABLE' || e.code === 'AGENT_TIMEOUT';
  const reachable = !(!outcome.health.ok && transport(outcome.health.error)) && !(!outcome.ready.answered && transport(outcome.ready.error));
  const ready = isAgentReadyResult(outcome.ready);
  let error: PolledState['error'] = null;
  if (!outcome.health.ok) error = errorOf(outcome.health.error);
  else if (!outcome.ready.answered) error = errorOf(outcome.ready.error);
  else if (!outcome.status.ok) error = errorOf(outcome.status.error);
  else if (!ready) error = { code: 'AGENT_NOT_READY', message: notReadyReason(outcome.ready) };
  return {
    reachable,
    ready,
    status: outcome.status.ok ? outcome.status.body.state : 'unknown',
    last_seen_at: reachable ? at : previous.last_seen_at,
    checked_at: at,
    last_ok_at: error === null ? at : previous.last_ok_at,
    error,
    details: outcome.status.ok ? outcome.status.body : previous.details,
  };
}

/** True when a user would see a difference (not just fresher timestamps or resource numbers). */
export function visiblyChanged(a: PolledState, b: PolledState): boolean {
  return a.reachable !== b.reachable || a.ready !== b.ready || a.status !== b.status || a.error?.code !== b.error?.code || a.error?.message !== b.error?.message;
}

/** The API.md state: `stale` when the last good poll is older than three poll intervals. */
export function presentState(lifecycle: Lifecycle, polled: PolledState, pollIntervalMs: number, now = Date.now()): InstanceState {
  const lastOk = polled.last_ok_at === null ? null : Date.parse(polled.last_ok_at);
  return {
    lifecycle,
    reachable: polled.reachable,
    ready: polled.ready,
    status: polled.status,
    last_seen_at: polled.last_seen_at,
    checked_at: polled.checked_at,
    stale: lifecycle === 'active' && (lastOk === null || now - lastOk > 3 * pollIntervalMs),
    error: polled.error,
    details: polled.details,
  };
}
