import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { Commands } from '../agents/commands.ts';
import type { VncTokens } from '../vnc/vnc-tokens.ts';

export interface PruneJobOptions {
  vncTokens: VncTokens;
  commands: Commands;
  /** Finished commands (and the logs their results carry) are kept this long. */
  keepDays: number;
}

/** Drops spent VNC tokens and old finished commands, hourly, on one replica. */
export function pruneJob({ vncTokens, commands, keepDays }: PruneJobOptions): JobDefinition {
  return { id: 'streamspace.prune', every_ms: 3_600_000, timeout_ms: 60_000, once_across_replicas: true, run: async () => void (await Promise.all([vncTokens.prune(), commands.prune(keepDays)])) };
}
