import type { CommandType } from '../contract/protocol.ts';

/**
 * The session state machine, in one place: the seed's "Valid State Transitions" table plus
 * the transitional states of the addendum. Users ask for a target; the agent's command
 * results decide where the session ends up.
 */
export const sessionStates = ['pending', 'running', 'hibernating', 'hibernated', 'waking', 'terminating', 'terminated', 'failed'] as const;
export type SessionState = (typeof sessionStates)[number];

export const transitionalStates: ReadonlySet<SessionState> = new Set(['pending', 'hibernating', 'waking', 'terminating']);
/** States in which a session holds a place on its agent and its name. */
export const liveStates: readonly SessionState[] = ['pending', 'running', 'hibernating', 'hibernated', 'waking', 'terminating'];

export const phaseOf: Record<SessionState, string> = {
  pending: 'Pending',
  running: 'Running',
  hibernating: 'Hibernating',
  hibernated: 'Hibernated',
  waking: 'Waking',
  terminating: 'Terminating',
  terminated: 'Terminated',
  failed: 'Failed',
};

export type Plan =
  | { kind: 'noop' }
  /** Move to `via` now and send `command`; the result moves it on. */
  | { kind: 'command'; via: SessionState; command: CommandType; data: Record<string, unknown>; message: string }
  /** Terminated at once; the agent is told to stop without waiting for it. */
  | { kind: 'force' }
  | { kind: 'invalid' }
  | { kind: 'admin_only' }
  | { kind: 'terminating' };

/** PATCH {"state": target}. Asking for the current state is a no-op (addendum). */
export function planPatch(from: SessionState, target: SessionState, isAdmin: boolean): Plan {
  if (from === target) return { kind: 'noop' };
  if (target === 'terminated') {
    if (!isAdmin) return { kind: 'admin_only' };
    return { kind: 'force' };
  }
  if (from === 'running' && target === 'hibernated') return { kind: 'command', via: 'hibernating', command: 'hibernate_session', data: {}, message: 'Hibernating session...' };
  if (from === 'hibernated' && target === 'running') return { kind: 'command', via: 'waking', command: 'wake_session', data: {}, message: 'Waking session...' };
  if ((from === 'running' || from === 'hibernated') && target === 'terminating') return gracefulStop();
  return { kind: 'invalid' };
}

function gracefulStop(): Plan {
  return { kind: 'command', via: 'terminating', command: 'stop_session', data: { graceful: true, timeout: '30s' }, message: 'Terminating session...' };
}

/** DELETE (an alias for terminating): a no-op once terminated, 409 while terminating, otherwise a stop. */
export function planDelete(from: SessionState, force: boolean): Plan {
  if (from === 'terminated') return { kind: 'noop' };
  if (force) return { kind: 'force' };
  if (from === 'terminating') return { kind: 'terminating' };
  return gracefulStop();
}

export interface Outcome {
  state: SessionState;
  message: string;
  /** The command failed on the agent but its aim holds anyway (a stop of a session the agent does not have). */
  settled?: boolean;
}

/** The agent's answer to a command for a session it does not have (docs/streamspace.md, "Idempotent commands"). */
export const sessionNotFoundCode = 'SESSION_NOT_FOUND';

/**
 * Where a command's end takes a session that is still in the state the command was sent
 * from; null when the session has moved on (force-terminated, say) and the result changes
 * nothing. A start that fails ends `failed`, never stuck `pending`.
 */
export function afterCommand(
  command: CommandType,
  current: SessionState,
  end: { status: 'completed' | 'failed' | 'timed_out'; error: string | null; errorCode?: string | null; initialState?: SessionState },
): Outcome | null {
  const ok = end.status === 'completed';
  const why = end.status === 'timed_out' ? `the agent did not answer in time${end.error ? ` (${end.error})` : ''}` : (end.error ?? 'the agent reported a failure');
  switch (command) {
    case 'start_session':
      if (current !== 'pending') return null;
      if (ok) return end.initialState === 'hibernated' ? { state: 'hibernated', message: 'Session created hibernated' } : { state: 'running', message: 'Session is running' };
      return { state: 'failed', message: `Provisioning failed: ${why}` };
    case 'hibernate_session':
      if (current !== 'hibernating') return null;
      return ok ? { state: 'hibernated', message: 'Session hibernated successfully' } : { state: 'running', message: `Hibernate failed: ${why}` };
    case 'wake_session':
      if (current !== 'waking') return null;
      return ok ? { state: 'running', message: 'Session is running' } : { state: 'hibernated', message: `Wake failed: ${why}` };
    case 'stop_session':
      if (current !== 'terminating') return null;
      if (ok) return { state: 'terminated', message: 'Session terminated' };
      // Nothing to stop is a done stop: the agent lost it (a restart), so it is gone either way.
      if (end.status === 'failed' && end.errorCode === sessionNotFoundCode) return { state: 'terminated', message: 'Session terminated (its agent no longer had it)', settled: true };
      // The user asked for it gone: an agent that never answers does not keep it alive here.
      if (end.status === 'timed_out') return { state: 'terminated', message: `Terminated without the agent's confirmation: ${why}` };
      return { state: 'failed', message: `Stop failed: ${why}; delete it again, or with ?force=true` };
    default:
      return null;
  }
}
