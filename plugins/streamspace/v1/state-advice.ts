import type { SessionState } from '../sessions/session-machine.ts';

/** What a user can do with a session in each state, for the errors that refuse what they asked. */
export const stateAdvice: Record<SessionState, string> = {
  pending: "it is starting: wait until it is 'running', then retry",
  running: 'hibernate it with PATCH {"state":"hibernated"} or end it with DELETE',
  hibernating: `it is hibernating: wait until it is 'hibernated', then wake it with PATCH {"state":"running"}`,
  hibernated: 'wake it with PATCH {"state":"running"}, then retry',
  waking: "it is waking: wait until it is 'running', then retry",
  terminating: 'it is ending: create a new session',
  terminated: 'it has ended: create a new session',
  failed: 'it failed: delete it (DELETE /api/v1/sessions/{id}) or create a new session',
};

export const adviceFor = (state: string, id: string): string => (stateAdvice[state as SessionState] ?? 'see its status.message').replace('{id}', id);
