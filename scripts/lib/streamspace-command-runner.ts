import type { AgentCommand } from '../../plugins/streamspace/contract/control-messages.ts';
import type { CommandOutcome, SessionBackend } from './streamspace-session-backend.ts';

export interface CommandRunnerOptions {
  /** How long a command "runs" before it executes (the simulator's; 0 for a real agent). */
  delayMs: number;
  /** Chance (0..1) that a command fails with SIMULATED_FAILURE (the simulator's). */
  failureRate: number;
  /** Command types that always fail with SIMULATED_FAILURE (the simulator's). */
  failCommands: readonly string[];
}

/** Results are kept to answer re-sent commands; the oldest go beyond this. */
const maxRememberedResults = 10_000;

/**
 * Runs commands once per command_id: the control plane re-sends a command it has no answer
 * for, and a re-sent command must get the first execution's result again, not start a
 * second session or hibernate twice.
 */
export class CommandRunner {
  private readonly results = new Map<string, Promise<CommandOutcome>>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private stopping = false;

  constructor(
    private readonly options: CommandRunnerOptions,
    private readonly sessions: Pick<SessionBackend, 'execute'>,
  ) {}

  /** The command's outcome; `repeated` when its command_id was seen before. */
  run(command: AgentCommand): { outcome: Promise<CommandOutcome>; repeated: boolean } {
    const known = this.results.get(command.command_id);
    if (known) return { outcome: known, repeated: true };
    const outcome = this.execute(command);
    this.results.set(command.command_id, outcome);
    if (this.results.size > maxRememberedResults) this.results.delete(this.results.keys().next().value as string);
    return { outcome, repeated: false };
  }

  /**
   * Cuts the "running" delays short (those commands fail with AGENT_STOPPED), waits for the
   * ones already executing, and forgets every result: a stopped agent is like an ended process.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    this.sleepers.clear();
    await Promise.allSettled(this.results.values());
    this.results.clear();
    this.stopping = false;
  }

  private async execute(command: AgentCommand): Promise<CommandOutcome> {
    await this.sleep(this.options.delayMs);
    if (this.stopping) return { status: 'failed', error: 'agent stopped', error_code: 'AGENT_STOPPED' };
    if (this.options.failCommands.includes(command.command_type) || Math.random() < this.options.failureRate) {
      return { status: 'failed', error: 'simulated failure', error_code: 'SIMULATED_FAILURE' };
    }
    return this.sessions.execute(command.command_type, command.session_id ?? null, command.data ?? {});
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(sleeper);
    });
  }
}
