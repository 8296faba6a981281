import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ, fixed at 100 for user space). */
const ticksPerSecond = 100;

function statFields(pid: number): string[] {
  // The command name (field 2) is in parentheses and may hold spaces; the fields after it are plain.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = statFields(pid);
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** CPU seconds of several processes together. */
export const totalCpuSeconds = (pids: number[]): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** The processes whose parent is `pid` (e.g. an nginx master's workers), found by scanning /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === pid) children.push(Number(entry));
    } catch {
      // gone between the listing and the read
    }
  }
  return children;
}
