import { AgentConnection, type AgentConnectionOptions } from './streamspace-agent-connection.ts';
import { SimSessions, type SimSessionInfo } from './streamspace-sim-sessions.ts';
import type { SimVncMode } from './streamspace-sim-vnc.ts';

export type { AgentCommand as SimCommand } from '../../plugins/streamspace/contract/control-messages.ts';
export type { SimSessionInfo, SimSessionState } from './streamspace-sim-sessions.ts';
export { agentSocketUrl } from './streamspace-agent-socket.ts';

export interface SimAgentOptions extends Omit<AgentConnectionOptions, 'metadata'> {
  /** How long a command "runs" before its result. */
  commandDelayMs?: number;
  /** Chance (0..1) that any command fails with SIMULATED_FAILURE. */
  failureRate?: number;
  /** Command types that always fail with SIMULATED_FAILURE. */
  failCommands?: string[];
  mode?: SimVncMode;
}

/**
 * A simulated StreamSpace agent: the real agent protocol (AgentConnection) in front of fake
 * VNC servers on 127.0.0.1, for tests and for operators trying a control plane.
 */
export class SimAgent extends AgentConnection {
  private readonly fakes: SimSessions;

  constructor(options: SimAgentOptions) {
    const fakes = new SimSessions(options.mode ?? 'echo', options.maxSessions ?? 10);
    super({ ...options, metadata: { agent_version: 'sim-1', simulated: true } }, fakes, {
      delayMs: options.commandDelayMs ?? 50,
      failureRate: options.failureRate ?? 0,
      failCommands: options.failCommands ?? [],
    });
    this.fakes = fakes;
  }

  get sessions(): Map<string, SimSessionInfo> {
    return this.fakes.snapshot();
  }

  vncBytesSent(sessionId: string): number | null {
    return this.fakes.vncBytesSent(sessionId);
  }
}
