import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Pid files shared by the local provisioner and the reference agent (`agent.json`,
 * `workload.pid`, `ide.pid` in an instance's folder). A pid alone is not enough after a
 * reboot or a container restart, when the number may belong to an unrelated process, so
 * each records the process's start time too, and only a match counts as "ours".
 */
export interface PidRecord {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); null where /proc is missing. */
  start: string | null;
}

export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function recordOf(pid: number): PidRecord {
  return { pid, start: startTimeOf(pid) };
}

export function writePidFile(file: string, pid: number, extra: Record<string, unknown> = {}): void {
  writeFileSync(file, JSON.stringify({ ...extra, ...recordOf(pid) }));
}

export function readPidFile(file: string): (PidRecord & Record<string, unknown>) | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<PidRecord> & Record<string, unknown>;
    return typeof parsed.pid === 'number' ? { ...parsed, pid: parsed.pid, start: typeof parsed.start === 'string' ? parsed.start : null } : null;
  } catch {
    return null;
  }
}

/** Alive and the same process that was recorded. */
export function isRunning(record: PidRecord | null): boolean {
  if (!record || record.pid <= 0) return false;
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  return record.start === null || startTimeOf(record.pid) === record.start;
}

/** Signals the recorded process's whole group (its children too), if it is still that process. */
export function signalGroup(record: PidRecord | null, signal: NodeJS.Signals): void {
  if (!isRunning(record)) return;
  try {
    process.kill(-(record as PidRecord).pid, signal);
  } catch {
    try {
      process.kill((record as PidRecord).pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}
