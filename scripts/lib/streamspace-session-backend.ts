/** What a command execution answers: the `result` of a completed command_result, or a failure. */
export type CommandOutcome = { status: 'completed'; result: Record<string, unknown> } | { status: 'failed'; error: string; error_code: string };

/** A change on the agent that no command asked for, told to the control plane as `session_status`. */
export interface SessionReport {
  sessionId: string;
  state: 'failed' | 'hibernated';
  reason: string;
}

/** One session the agent has, as `register` and `heartbeat` tell it (docs/streamspace.md, "Inventory"). */
export interface InventoryItem {
  session_id: string;
  /** running, starting, hibernated, failed: whatever the agent holds it as. */
  state: string;
  vnc_port: number | null;
}

/**
 * Where an agent's sessions really run: fake VNC servers (the simulator) or real desktops (the
 * desktop agent). The agent connection speaks the protocol; the backend does the work.
 */
export interface SessionBackend {
  /** Sessions running now, for the heartbeat's current_sessions. */
  readonly running: number;
  /** Every session the agent has, sorted by id (so two lists compare as text). */
  inventory(): InventoryItem[];
  /** The VNC port of a running session, or null. */
  vncPort(sessionId: string): number | null;
  /** Runs one session command; commands on one session run one after another. */
  execute(commandType: string, sessionId: string | null, data: Record<string, unknown>): Promise<CommandOutcome>;
  /** Gets every change the backend makes by itself (a crash, a session found stopped). */
  onReport(listener: (report: SessionReport) => void): void;
  /** Ends what the backend holds open when the agent stops. */
  close(): Promise<void>;
}

export const failed = (error: string, error_code: string): CommandOutcome => ({ status: 'failed', error, error_code });

export const byId = (a: InventoryItem, b: InventoryItem): number => (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0);
