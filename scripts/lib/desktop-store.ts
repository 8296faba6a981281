import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessRef } from './desktop-processes.ts';
import type { DesktopSpec } from './desktop-spec.ts';

/** `starting` is only ever seen on disk after an agent died in the middle of a start. */
export type DesktopState = 'starting' | 'running' | 'hibernated' | 'failed';

/** One session as `DIR/sessions/<id>/session.json` keeps it. */
export interface DesktopRecord {
  sessionId: string;
  spec: DesktopSpec;
  state: DesktopState;
  display: number | null;
  port: number | null;
  xvnc: ProcessRef | null;
  app: ProcessRef | null;
  startedAt: string | null;
}

/** Beyond this the log file is cut to its last quarter at the next start: a desktop's xterm can print a lot. */
const maxLogBytes = 4 * 1024 * 1024;

/** Session ids become directory names: nothing that could climb out of the data directory. */
export function safeSessionId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.includes('..');
}

/**
 * The desktop agent's data directory: a folder per session with its record, its log (the
 * agent's lines and the output of Xvnc and the app) and its home. Records are written whole
 * and renamed into place, so a crash never leaves half a record.
 */
export class DesktopStore {
  constructor(private readonly dataDir: string) {
    mkdirSync(join(dataDir, 'sessions'), { recursive: true, mode: 0o700 });
  }

  dir(sessionId: string): string {
    return join(this.dataDir, 'sessions', sessionId);
  }

  home(sessionId: string): string {
    return join(this.dir(sessionId), 'home');
  }

  /** Every session record on disk; unreadable ones are skipped (and named, so an operator can look). */
  load(onBad: (sessionId: string, why: string) => void): DesktopRecord[] {
    const records: DesktopRecord[] = [];
    for (const entry of readdirSync(join(this.dataDir, 'sessions'), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      try {
        const record = JSON.parse(readFileSync(join(this.dir(entry.name), 'session.json'), 'utf8')) as DesktopRecord;
        if (record.sessionId === entry.name) records.push(record);
      } catch (err) {
        // A persistent home left after a terminate has no record: that is not a problem.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onBad(entry.name, err instanceof Error ? err.message : String(err));
      }
    }
    return records;
  }

  save(record: DesktopRecord): void {
    mkdirSync(this.home(record.sessionId), { recursive: true, mode: 0o700 });
    const path = join(this.dir(record.sessionId), 'session.json');
    writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  /** Ends a session on disk: everything goes, or everything but the home when it is persistent. */
  remove(sessionId: string, keepHome: boolean): void {
    const dir = this.dir(sessionId);
    if (!keepHome) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    for (const name of ['session.json', 'session.log']) rmSync(join(dir, name), { force: true });
  }

  /** A file descriptor appending to the session's log, for a child's stdout and stderr. */
  openLog(sessionId: string): number {
    const path = join(this.dir(sessionId), 'session.log');
    try {
      const size = statSync(path).size;
      if (size > maxLogBytes) {
        const keep = readFileSync(path).subarray(size - maxLogBytes / 4);
        writeFileSync(path, keep);
      }
    } catch {
      // no log yet
    }
    return openSync(path, 'a', 0o600);
  }

  closeLog(fd: number): void {
    closeSync(fd);
  }

  /** The agent's own line in the session's log, timestamped like the ones get_session_logs may strip. */
  append(sessionId: string, line: string): void {
    try {
      appendFileSync(join(this.dir(sessionId), 'session.log'), `${new Date().toISOString()} [agent] ${line}\n`, { mode: 0o600 });
    } catch {
      // the session's folder is gone (terminated meanwhile)
    }
  }

  /** The last `tail` lines (all when undefined); `timestamps: false` strips the agent's ISO prefix. */
  logs(sessionId: string, tail: number | undefined, timestamps: boolean): string[] {
    let text = '';
    try {
      text = readFileSync(join(this.dir(sessionId), 'session.log'), 'utf8');
    } catch {
      return [];
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const picked = tail === undefined ? lines : tail === 0 ? [] : lines.slice(-tail);
    return timestamps ? picked : picked.map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, ''));
  }
}
