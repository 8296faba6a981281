/** What a fake agent is (its state, workload and fault) as test/fakes/fake-agents.ts keeps it. */

/** A fault switches off the agent contract: hang, answer slowly, 500, garbage, ready:false, close, drip, or refuse some routes. */
export type FaultMode =
  | { mode: 'normal' }
  | { mode: 'hang' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'error500' }
  | { mode: 'garbage' }
  | { mode: 'not_ready'; reason?: string; status?: 200 | 503 }
  | { mode: 'close' }
  | { mode: 'drip'; byteDelayMs: number }
  /** Answers `status` with a contract error body on the listed paths (`METHOD /path`, e.g. `POST /backups`); normal elsewhere. */
  | { mode: 'refuse'; status: number; routes: string[] };

export interface Backup {
  id: string;
  name: string;
  state: 'in_progress' | 'completed' | 'failed';
  size_bytes: number | null;
  sha256: string | null;
  created_at: string;
  completed_at: string | null;
}

export interface FakeAgent {
  id: string;
  token: string;
  fault: FaultMode;
  state: 'installing' | 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';
  since: string;
  startedAt: number;
  lines: string[];
  backups: Backup[];
  codeserver: 'running' | 'stopped';
  dev: boolean;
  requests: number;
  /** How long a restore stays in progress (`backup.in_progress`) before it completes. */
  restoreMs: number;
  /** How long a new backup stays `in_progress` (Infinity: forever). */
  backupMs: number;
  restoring: { id: string; until: number } | null;
  lastRestore: { id: string; state: 'completed'; error: null; finished_at: string } | null;
}
