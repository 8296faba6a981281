import { AgentConnection, type AgentConnectionOptions } from './streamspace-agent-connection.ts';
import { DesktopSessions, type DesktopSessionsOptions } from './desktop-sessions.ts';

export interface DesktopAgentOptions extends Omit<AgentConnectionOptions, 'metadata' | 'platform'>, Pick<DesktopSessionsOptions, 'dataDir' | 'path' | 'xvncBinary' | 'watchEveryMs'> {}

export const desktopAgentVersion = 'desktop-1';

/**
 * The local StreamSpace desktop agent: the agent protocol (AgentConnection) in front of real
 * desktops on this machine (DesktopSessions), registered as `platform: local`.
 */
export class DesktopAgent extends AgentConnection {
  readonly desktops: DesktopSessions;

  constructor(options: DesktopAgentOptions) {
    const maxSessions = options.maxSessions ?? 4;
    const desktops = new DesktopSessions({
      dataDir: options.dataDir,
      maxSessions,
      path: options.path,
      xvncBinary: options.xvncBinary,
      watchEveryMs: options.watchEveryMs,
      log: (msg, fields) => options.log?.(JSON.stringify({ msg, ...fields })),
    });
    super({ ...options, maxSessions, platform: 'local', metadata: { agent_version: desktopAgentVersion, desktops: 'xvnc' } }, desktops);
    this.desktops = desktops;
  }

  /** Adopts what the data directory holds, then connects and registers. */
  override async start(): Promise<void> {
    await this.desktops.open();
    return super.start();
  }

  /** The desktops keep running for the next agent to adopt, unless `endSessions` (then their homes go too, unless persistent). */
  async shutdown(endSessions = false): Promise<void> {
    await this.stop();
    if (endSessions) await this.desktops.close(true);
  }
}
