import pg from 'pg';
import { startBenchServer, type BenchServer } from './bench-server.ts';

/** One API replica of the takeover bench: a real server process, and the id it polls under. */
export interface Replica {
  label: string;
  /** Its registry id, which it sends agents as X-Panel-Replica. */
  id: string;
  server: BenchServer;
  /** Job runs it counted (panel_job_runs_total that ran: ok, failed, timeout), read last just before it was stopped. */
  jobRuns: Map<string, number>;
}

const ranOutcomes = new Set(['ok', 'failed', 'timeout']);

/**
 * The replicas of one bench on one PostgreSQL database: each started with `npm start`'s node
 * flags (startBenchServer), its id read back from the registry by the address it listens on.
 */
export class TakeoverReplicas {
  readonly all: Replica[] = [];
  private started = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly env: Record<string, string>,
    private readonly metricsToken: string,
  ) {}

  private readonly gone = new Set<Replica>();

  get live(): Replica[] {
    return this.all.filter((r) => !this.gone.has(r));
  }

  async start(): Promise<Replica> {
    this.started += 1;
    const server = await startBenchServer(this.databaseUrl, { ...this.env, METRICS_TOKEN: this.metricsToken });
    const db = new pg.Client({ connectionString: this.databaseUrl });
    await db.connect();
    try {
      // Its row learns the listening address at the first heartbeat after the server listens.
      let id: string | undefined;
      for (let waited = 0; !id; waited += 100) {
        if (waited > 10_000) throw new Error(`replica at ${server.url} is not in the registry`);
        id = (await db.query<{ id: string }>('SELECT id FROM replicas WHERE internal_url = $1', [server.url])).rows[0]?.id;
        if (!id) await new Promise((r) => setTimeout(r, 100));
      }
      const replica: Replica = { label: `r${this.started}`, id, server, jobRuns: new Map() };
      this.all.push(replica);
      return replica;
    } finally {
      await db.end();
    }
  }

  /** Reads the replica's job-run counters (kept: a killed replica's counters die with it). */
  async scrapeJobRuns(replica: Replica): Promise<void> {
    const res = await fetch(`${replica.server.url}/metrics`, { headers: { Authorization: `Bearer ${this.metricsToken}` } });
    const text = await res.text();
    const runs = new Map<string, number>();
    for (const m of text.matchAll(/^panel_job_runs_total\{job="([^"]+)",outcome="([^"]+)"\} (\d+)/gm)) {
      if (ranOutcomes.has(m[2] as string)) runs.set(m[1] as string, (runs.get(m[1] as string) ?? 0) + Number(m[3]));
    }
    replica.jobRuns = runs;
  }

  /** SIGKILL (a crash: nothing is cleaned up) or SIGTERM (a clean stop); resolves at the signal, `exited` once it is gone. */
  signal(replica: Replica, signal: 'SIGKILL' | 'SIGTERM'): { at: number; exited: Promise<number> } {
    this.gone.add(replica);
    const at = Date.now();
    process.kill(replica.server.pid, signal);
    // stop() only once it has exited: a second SIGTERM would make a stopping server exit at once.
    return {
      at,
      exited: replica.server.exited.then(async () => {
        const gone = Date.now();
        await replica.server.stop();
        return gone;
      }),
    };
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.live.map((r) => r.server.stop()));
  }
}
