import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { AppError } from '../http/errors.ts';
import type { AgentClient, AgentTarget } from '../agent/agent-client.ts';
import { getAgentReady } from '../agent/readiness.ts';
import type { EventBus } from '../events/event-bus.ts';
import { emptyPolledState, normalizePoll, presentState, visiblyChanged, withAgentLifecycles, type Lifecycle, type PollOutcome, type PolledState } from './instance-state.ts';

export interface PollerSettings {
  intervalMs: number;
  concurrency: number;
  suspectConcurrency: number;
  maxBackoffMs: number;
}

interface Tracked {
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

interface InstanceRow {
  id: string;
  owner_id: string;
  kind: string;
  plugin: string;
  lifecycle: Lifecycle;
  agent_base_url: string;
  agent_token_encrypted: string;
}

/** Lifecycles whose agents are polled; provisioning is driven by the provisioner itself. */
const polledLifecycles = [...withAgentLifecycles];

/**
 * The heartbeat authority. Each replica polls its share of the instances (an even split
 * among live replicas, recomputed as they come and go). Polls run in two lanes with their
 * own concurrency: agents that failed lately wait in the suspect lane with exponential
 * backoff, so dead or hung agents never hold up healthy ones. State lives in memory, goes
 * to the database in batches, and a change a user can see is written and published at once.
 */
export class Poller {
  private readonly tracked = new Map<string, Tracked>();
  private reloading: Promise<void> | null = null;
  private dispatchTimer: NodeJS.Timeout | null = null;
  private active = { healthy: 0, suspect: 0 };
  private stopping = false;
  private lastReload = 0;
  private readonly polls: Counter<'outcome'>;
  private readonly pollSeconds: Histogram;
  private readonly trackedGauge: Gauge;
  private readonly stateAge: Histogram;

  constructor(
    private readonly db: Knex,
    private readonly client: AgentClient,
    private readonly box: SecretBox,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly settings: PollerSettings,
    private readonly replicaId: string,
    registry: Registry,
  ) {
    this.polls = new Counter({ name: 'panel_agent_polls_total', help: 'Agent polls by outcome', labelNames: ['outcome'], registers: [registry] });
    this.pollSeconds = new Histogram({ name: 'panel_agent_poll_duration_seconds', help: 'Time of one agent poll (/health, /ready, /status)', registers: [registry], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5] });
    this.trackedGauge = new Gauge({ name: 'panel_agent_polled_instances', help: 'Instances this replica polls', registers: [registry] });
    this.stateAge = new Histogram({
      name: 'panel_agent_state_age_seconds',
      help: 'How old an instance\'s last good state was when a poll refreshed it (staleness just before refresh)',
      registers: [registry],
      buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17.5, 20, 25, 30, 45, 60, 120],
    });
  }

  /** The freshest state this replica knows for an instance it polls. */
  cached(id: string): PolledState | undefined {
    return this.tracked.get(id)?.polled;
  }

  get size(): number {
    return this.tracked.size;
  }

  /** Called every second by the scheduler: heartbeat and reload now and then, start due polls, flush. */
  async tick(): Promise<void> {
    if (Date.now() - this.lastReload >= Math.min(5_000, this.settings.intervalMs)) await this.reload();
    this.dispatch();
    await this.flush(false);
  }

  /** Re-reads which instances this replica polls (one reload at a time; callers share it). */
  reload(): Promise<void> {
    this.reloading ??= this.readAssignments().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async readAssignments(): Promise<void> {
    this.lastReload = Date.now();
    await this.db.raw(
      `INSERT INTO replicas (id, heartbeat_at) VALUES (?, now()) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
      [this.replicaId],
    );
    const result = await this.db.raw<{ rows: InstanceRow[] }>(
      `WITH live AS (
         SELECT id, row_number() OVER (ORDER BY id) - 1 AS rank, count(*) OVER () AS n
           FROM replicas WHERE heartbeat_at > now() - interval '15 seconds')
       SELECT i.id, i.owner_id, i.kind, i.plugin, i.lifecycle, i.agent_base_url, i.agent_token_encrypted
         FROM instances i JOIN live ON live.id = ?
        WHERE i.agent_base_url IS NOT NULL AND i.lifecycle = ANY(?)
          AND mod(hashtext(i.id::text)::bigint + 2147483648, live.n) = live.rank`,
      [this.replicaId, polledLifecycles],
    );
    // Stored states are read only for instances new to this replica: a reload of thousands stays light.
    const fresh = result.rows.filter((r) => !this.tracked.has(r.id)).map((r) => r.id);
    const stored = new Map<string, Partial<PolledState>>();
    for (let i = 0; i < fresh.length; i += 1000) {
      const rows = await this.db('instances').whereIn('id', fresh.slice(i, i + 1000)).select<Array<{ id: string; state: Partial<PolledState> }>>('id', 'state');
      for (const r of rows) stored.set(r.id, r.state);
    }
    const seen = new Set<string>();
    for (const row of result.rows) {
      seen.add(row.id);
      const existing = this.tracked.get(row.id);
      if (existing && existing.sealedToken === row.agent_token_encrypted && existing.target.baseUrl === row.agent_base_url) {
        existing.lifecycle = row.lifecycle;
        continue;
      }
      this.tracked.set(row.id, {
        id: row.id,
        ownerId: row.owner_id,
        kind: row.kind,
        plugin: row.plugin,
        lifecycle: row.lifecycle,
        target: { baseUrl: row.agent_base_url, token: this.box.open(row.agent_token_encrypted) },
        sealedToken: row.agent_token_encrypted,
        polled: existing?.polled ?? { ...emptyPolledState, ...stored.get(row.id) },
        // New ones start spread over one interval, so a restart does not poll everything at once.
        nextPollAt: existing?.nextPollAt ?? Date.now() + Math.random() * this.settings.intervalMs,
        failures: existing?.failures ?? 0,
        inFlight: existing?.inFlight ?? null,
        dirty: false,
        writtenAt: Date.now(),
      });
    }
    for (const id of this.tracked.keys()) if (!seen.has(id)) this.tracked.delete(id);
    this.trackedGauge.set(this.tracked.size);
  }

  private dispatch(): void {
    if (this.stopping) return;
    const now = Date.now();
    for (const item of this.tracked.values()) {
      if (item.inFlight || item.nextPollAt > now) continue;
      const lane = item.failures > 0 ? 'suspect' : 'healthy';
      const limit = lane === 'healthy' ? this.settings.concurrency : this.settings.suspectConcurrency;
      if (this.active[lane] >= limit) continue;
      this.active[lane] += 1;
      item.inFlight = this.poll(item).finally(() => {
        this.active[lane] -= 1;
        item.inFlight = null;
        this.dispatchSoon();
      });
    }
  }

  /**
   * A slot freed: start whatever else is due without waiting for the next tick. Batched, so
   * thousands of completions a second cost a few scans, not one scan each.
   */
  private dispatchSoon(): void {
    if (this.dispatchTimer || this.stopping) return;
    this.dispatchTimer = setTimeout(() => {
      this.dispatchTimer = null;
      this.dispatch();
    }, 25);
    this.dispatchTimer.unref();
  }

  /** Polls one instance now (after a power action, say) and resolves when its state is updated. */
  async pollNow(id: string): Promise<void> {
    if (!this.tracked.has(id)) await this.reload();
    const item = this.tracked.get(id);
    if (!item) return; // another replica polls it
    // Forced polls are rare (user actions) and skip the lanes, but never overlap a running poll.
    while (item.inFlight) await item.inFlight;
    item.inFlight = this.poll(item).finally(() => {
      item.inFlight = null;
    });
    await item.inFlight;
  }

  private async poll(item: Tracked): Promise<void> {
    const started = performance.now();
    const outcome = await this.ask(item.target);
    this.pollSeconds.observe((performance.now() - started) / 1000);
    const next = normalizePoll(outcome, item.polled, new Date());
    const transportFailed = !next.reachable || (next.error !== null && next.error.code !== 'AGENT_NOT_READY');
    item.failures = transportFailed ? item.failures + 1 : 0;
    const jitter = 1 + (Math.random() - 0.5) * 0.2;
    const delay = transportFailed ? Math.min(this.settings.intervalMs * 2 ** item.failures, this.settings.maxBackoffMs) : this.settings.intervalMs;
    item.nextPollAt = Date.now() + delay * jitter;
    this.polls.inc({ outcome: next.error === null ? 'ok' : next.error.code });
    if (next.error === null && item.polled.last_ok_at !== null) this.stateAge.observe((Date.now() - Date.parse(item.polled.last_ok_at)) / 1000);
    const changed = visiblyChanged(item.polled, next);
    item.polled = next;
    item.dirty = true;
    if (changed) await this.storeAndPublish(item).catch((err: unknown) => this.log.warn({ err, instance_id: item.id }, 'could not store instance state; will retry'));
  }

  /**
   * A visible change: stored and published in one transaction, with the lifecycle read from
   * the row, and only while the instance is still polled: an instance being deleted meanwhile
   * gets no late "active, unreachable" event after its deletion.
   */
  private async storeAndPublish(item: Tracked): Promise<void> {
    await this.db.transaction(async (trx) => {
      const updated = await trx.raw<{ rows: Array<{ lifecycle: Lifecycle }> }>(
        `UPDATE instances SET state = ?::jsonb WHERE id = ? AND lifecycle = ANY(?) RETURNING lifecycle`,
        [JSON.stringify(item.polled), item.id, polledLifecycles],
      );
      const row = updated.rows[0];
      if (!row) {
        this.tracked.delete(item.id);
        return;
      }
      item.lifecycle = row.lifecycle;
      await this.bus.publish('instance.state', item.ownerId, { instance_id: item.id, kind: item.kind, plugin: item.plugin, state: presentState(row.lifecycle, item.polled, this.settings.intervalMs) }, trx);
    });
    item.dirty = false;
    item.writtenAt = Date.now();
  }

  /** One poll of an agent that is not tracked yet (an instance about to become active). */
  async probe(target: AgentTarget): Promise<PolledState> {
    return normalizePoll(await this.ask(target), emptyPolledState, new Date());
  }

  /** /health, then /ready, then /status; after a transport failure the rest are skipped. */
  private async ask(target: AgentTarget): Promise<PollOutcome> {
    const failed = (error: AppError) => ({ ok: false as const, error });
    const health = await this.client.call(target, 'health', { kind: 'poll', ignoreBreaker: true }).then(() => ({ ok: true as const }), (err: unknown) => failed(asAppError(err)));
    if (!health.ok && isTransport(health.error)) return { health, ready: { answered: false, error: health.error }, status: health };
    const ready = await getAgentReady(this.client, target, { ignoreBreaker: true });
    if (!ready.answered && isTransport(ready.error)) return { health, ready, status: failed(ready.error) };
    const status = await this.client.call(target, 'status', { kind: 'poll', ignoreBreaker: true }).then((body) => ({ ok: true as const, body }), (err: unknown) => failed(asAppError(err)));
    return { health, ready, status };
  }

  /** Writes states that changed since their last write, at most once per interval each (force: all dirty). */
  async flush(force: boolean): Promise<void> {
    const now = Date.now();
    const due = [...this.tracked.values()].filter((t) => t.dirty && (force || now - t.writtenAt >= this.settings.intervalMs));
    for (let i = 0; i < due.length; i += 1000) await this.write(due.slice(i, i + 1000));
  }

  private async write(items: Tracked[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.raw(
      `UPDATE instances AS i SET state = v.state::jsonb
         FROM (SELECT unnest(?::uuid[]) AS id, unnest(?::text[]) AS state) AS v
        WHERE i.id = v.id`,
      [items.map((t) => t.id), items.map((t) => JSON.stringify(t.polled))],
    );
    const at = Date.now();
    for (const t of items) {
      t.dirty = false;
      t.writtenAt = at;
    }
  }

  /** Stops starting polls, waits for those in flight (each is bounded by its timeouts), writes what is left. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.dispatchTimer) clearTimeout(this.dispatchTimer);
    await Promise.allSettled([...this.tracked.values()].map((t) => t.inFlight).filter((p): p is Promise<void> => p !== null));
    await this.flush(true).catch((err: unknown) => this.log.warn({ err }, 'could not store instance states at shutdown'));
    await this.db('replicas').where({ id: this.replicaId }).delete().catch(() => undefined);
  }
}

function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError(502, 'AGENT_BAD_RESPONSE', 'Bad answer from agent', err instanceof Error ? err.message : String(err));
}

const isTransport = (e: AppError): boolean => e.code === 'AGENT_UNREACHABLE' || e.code === 'AGENT_TIMEOUT';
