import type { JobDefinition } from '../../jobs/job.ts';

/**
 * Handles queued reset requests, then delivers the outbox. Reset requests are never handled
 * right after the request: extra work just after a request for a known email would let the
 * next request's timing reveal the account.
 */
export function dispatchMailJob(processMail: (signal?: AbortSignal) => Promise<void>): JobDefinition {
  return { id: 'core.mail-dispatch', every_ms: 5_000, timeout_ms: 60_000, once_across_replicas: false, run: async ({ signal }) => processMail(signal) };
}
