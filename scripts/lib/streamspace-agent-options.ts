/** What an AgentConnection is told at construction, and the defaults it fills in. */
export interface AgentConnectionOptions {
  /** The control plane's base URL (http(s):// or ws(s)://); the agent socket is <url>/agent/ws. */
  url: string;
  agentId: string;
  key: string;
  platform?: string;
  region?: string;
  maxSessions?: number;
  /** Sent in `register`: agent_version and what else tells operators what this agent is. */
  metadata?: Record<string, unknown>;
  /** False: never send command_ack (results still come), to exercise the control plane's retries. */
  ackCommands?: boolean;
  /** Reconnect by itself (1 s, 2 s, … 30 s apart) when a registered socket drops; drop() never does. */
  autoReconnect?: boolean;
  /** Gets one JSON object per line for every notable event. */
  log?: (line: string) => void;
}

export type ResolvedAgentOptions = Required<Omit<AgentConnectionOptions, 'region' | 'log'>> & Pick<AgentConnectionOptions, 'region'>;

export function resolveAgentOptions(options: AgentConnectionOptions): ResolvedAgentOptions {
  return {
    url: options.url,
    agentId: options.agentId,
    key: options.key,
    platform: options.platform ?? 'docker',
    region: options.region,
    maxSessions: options.maxSessions ?? 10,
    metadata: options.metadata ?? {},
    ackCommands: options.ackCommands ?? true,
    autoReconnect: options.autoReconnect ?? false,
  };
}
