/**
 * Socket error codes that mean the agent could not be reached (nothing it sent was read):
 * answered as AGENT_UNREACHABLE by every way the core talks to agents (calls, streams and the
 * console socket), so one agent outage looks the same whichever of them hits it first.
 */
const unreachableCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

export function isUnreachableCode(code: string | undefined): code is string {
  return code !== undefined && unreachableCodes.has(code);
}
