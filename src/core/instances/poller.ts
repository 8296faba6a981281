import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { AgentClient, AgentTarget } from '../agent/agent-client.ts';
import type { EventBus } from '../events/event-bus.ts';
import { emptyPolledState, normalizePoll, visiblyChanged, type PolledState } from './instance-state.ts';
import { askAgent } from './poll-probe.ts';
import { PollMetrics } from './poll-metrics.ts';
import { fingerprintShare, polledLifecycles, readShare, type PolledRow } from './poll-share.ts';
import { flushBatch, storeAndPublish, writeStates } from './poll-store.ts';
import { trackedFrom, type Tracked } from './poll-tracked.ts';

export interface PollerSettings {
  intervalMs: number;
  concurrency: number;
  suspectConcurrency: number;
  maxBackoffMs: number;
}

export interface PollerOptions {
  db: Knex;
  client: AgentClient;
  box: SecretBox;
  bus: EventBus;
  log: Logger;
  settings: PollerSettings;
  replicaId: string;
  registry: Registry;
}

/** After its confirmation, a user's action is polled again when a start or stop has usually shown. */
const pollLaterDelaysMs = [1_000, 3_000];

/**
 * The heartbeat authority. Each replica polls its share of the instances (a rendezvous-hash
 * split among live replicas, recomputed as they come and go). Polls run in two lanes with their
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
  /** The share as last read in full; a reload that finds it unchanged reads no rows. */
  private shareFingerprint: string | null = null;
  private readonly metrics: PollMetrics;
  private readonly soon = new Set<NodeJS.Timeout>();
  private readonly db: Knex;
  private readonly client: AgentClient;
  private readonly box: SecretBox;
  private readonly bus: EventBus;
  private readonly log: Logger;
  private readonly settings: PollerSettings;
  private readonly replicaId: string;

  constructor(options: PollerOptions) {
    ({ db: this.db, client: this.client, box: this.box, bus: this.bus, log: this.log, settings: this.settings, replicaId: this.replicaId } = options);
    this.metrics = new PollMetrics(options.registry);
  }

  /** The freshest state this replica knows for an instance it polls. */
  cached(id: string): PolledState | undefined {
    return this.tracked.get(id)?.polled;
  }

  get size(): number {
    return this.tracked.size;
  }

  /**
   * Called every second by the scheduler: reload the share now and then, start due polls, flush.
   * The share is re-read at least every half interval (and every 5 s), so when replicas come and
   * go an instance moves within half an interval on every replica: the old owner stops and the
   * new one starts within that much of each other, which bounds double polling.
   */
  async tick(): Promise<void> {
    if (Date.now() - this.lastReload >= Math.min(5_000, this.settings.intervalMs / 2)) await this.reload();
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
    const share = await fingerprintShare(this.db, this.replicaId);
    // Thousands of rows parsed every few seconds only to find nothing changed made long pauses
    // and old-generation garbage. The size check also catches entries dropped since (storeAndPublish).
    if (share.fingerprint === this.shareFingerprint && share.count === this.tracked.size) return;
    const assigned = await readShare(this.db, this.replicaId);
    // Stored states are read only for instances new to this replica: a reload of thousands stays light.
    const fresh = assigned.filter((r) => !this.tracked.has(r.id)).map((r) => r.id);
    const stored = new Map<string, Partial<PolledState>>();
    for (let i = 0; i < fresh.length; i += 1000) {
      const rows = await this.db('instances')
        .whereIn('id', fresh.slice(i, i + 1000))
        .select<Array<{ id: string; state: Partial<PolledState> }>>('id', 'state');
      for (const r of rows) stored.set(r.id, r.state);
    }
    const seen = new Set<string>();
    for (const row of assigned) {
      seen.add(row.id);
      const existing = this.tracked.get(row.id);
      if (existing && existing.sealedToken === row.agent_token_encrypted && existing.target.baseUrl === row.agent_base_url) {
        existing.lifecycle = row.lifecycle;
        continue;
      }
      // New ones start spread over one interval, so a restart does not poll everything at once.
      this.tracked.set(row.id, trackedFrom(row, this.box, stored.get(row.id), existing, Date.now() + Math.random() * this.settings.intervalMs));
    }
    for (const id of this.tracked.keys()) if (!seen.has(id)) this.tracked.delete(id);
    this.metrics.tracked.set(this.tracked.size);
    this.shareFingerprint = share.fingerprint;
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

  /**
   * Read-your-writes for actions: resolves once the agent's own account of the instance, asked
   * after the action, is in the state cache (stored and published when the portal would see a
   * change). On the replica that polls the instance that is its next poll, now; elsewhere a
   * one-off poll from here, so the answer holds whichever replica the next request reaches.
   */
  async confirm(id: string): Promise<void> {
    await this.pollNow(id);
    let item = this.tracked.get(id);
    if (!item && !this.stopping) {
      const row = await this.db('instances')
        .where({ id })
        .whereNotNull('agent_base_url')
        .whereIn('lifecycle', polledLifecycles)
        .first<(PolledRow & { state: Partial<PolledState> }) | undefined>('id', 'owner_id', 'kind', 'plugin', 'lifecycle', 'agent_base_url', 'agent_token_encrypted', 'state');
      if (!row) return;
      item = trackedFrom(row, this.box, row.state, undefined, Date.now());
      await this.poll(item);
    }
    // What the action changed may be only in the details (the IDE's state), which a routine poll
    // writes with the next batch: after an action it is written now.
    if (item?.dirty) await this.storeAndPublish(item);
  }

  /**
   * After a user's action (confirmed at once): polls again after 1 and 3 seconds, so the portal
   * sees "running" soon after "starting", not at the next interval.
   */
  pollLater(id: string): void {
    for (const ms of pollLaterDelaysMs) {
      const timer = setTimeout(() => {
        this.soon.delete(timer);
        if (!this.stopping) void this.pollNow(id).catch((err: unknown) => this.log.debug({ err, instance_id: id }, 're-poll after an action failed'));
      }, ms);
      timer.unref();
      this.soon.add(timer);
    }
  }

  private async poll(item: Tracked): Promise<void> {
    const started = performance.now();
    const outcome = await askAgent(this.client, item.target);
    this.metrics.seconds.observe((performance.now() - started) / 1000);
    const next = normalizePoll(outcome, item.polled, new Date());
    const transportFailed = !next.reachable || (next.error !== null && next.error.code !== 'AGENT_NOT_READY');
    item.failures = transportFailed ? item.failures + 1 : 0;
    const jitter = 1 + (Math.random() - 0.5) * 0.2;
    const delay = transportFailed ? Math.min(this.settings.intervalMs * 2 ** item.failures, this.settings.maxBackoffMs) : this.settings.intervalMs;
    item.nextPollAt = Date.now() + delay * jitter;
    this.metrics.polls.inc({ outcome: next.error === null ? 'ok' : next.error.code });
    if (next.error === null && item.polled.last_ok_at !== null) this.metrics.stateAge.observe((Date.now() - Date.parse(item.polled.last_ok_at)) / 1000);
    const changed = visiblyChanged(item.polled, next);
    item.polled = next;
    item.dirty = true;
    if (changed) await this.storeAndPublish(item).catch((err: unknown) => this.log.warn({ err, instance_id: item.id }, 'could not store instance state; will retry'));
  }

  /** A visible change, stored and published at once (see poll-store.ts); an instance no longer polled is forgotten. */
  private storeAndPublish(item: Tracked): Promise<void> {
    return storeAndPublish(this.db, this.bus, this.settings.intervalMs, item, (id) => this.tracked.delete(id));
  }

  /** One poll of an agent that is not tracked yet (an instance about to become active). */
  async probe(target: AgentTarget): Promise<PolledState> {
    return normalizePoll(await askAgent(this.client, target), emptyPolledState, new Date());
  }

  /**
   * Writes states that changed since their last write, at most once per interval each (force: all
   * dirty). In statements of a few hundred rows, so no single one builds a long string at once.
   */
  async flush(force: boolean): Promise<void> {
    const now = Date.now();
    const due: Tracked[] = [];
    for (const t of this.tracked.values()) if (t.dirty && (force || now - t.writtenAt >= this.settings.intervalMs)) due.push(t);
    for (let i = 0; i < due.length; i += flushBatch) await writeStates(this.db, due.slice(i, i + flushBatch));
  }

  /** Stops starting polls, waits for those in flight (each is bounded by its timeouts), writes what is left. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.dispatchTimer) clearTimeout(this.dispatchTimer);
    for (const timer of this.soon) clearTimeout(timer);
    this.soon.clear();
    await Promise.allSettled([...this.tracked.values()].map((t) => t.inFlight).filter((p): p is Promise<void> => p !== null));
    await this.flush(true).catch((err: unknown) => this.log.warn({ err }, 'could not store instance states at shutdown'));
  }
}
