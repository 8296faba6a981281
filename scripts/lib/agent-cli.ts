import { readFileSync } from 'node:fs';

/** What the agent scripts share on their command line: the key, the URL and the run until a signal. */
export function agentKey(values: { key?: string; 'key-file'?: string }): string | undefined {
  return values.key ?? (values['key-file'] ? readFileSync(values['key-file'], 'utf8').trim() : process.env.STREAMSPACE_AGENT_KEY);
}

export function urlProblem(url: string | undefined): string | null {
  if (!url) return '--url is required';
  try {
    new URL(url);
    return null;
  } catch {
    return `--url is not a URL: "${url}"`;
  }
}

/**
 * Runs until SIGINT or SIGTERM (exit 0). Without reconnecting, a lost control plane ends the
 * process (exit 1) instead of idling.
 */
export function runUntilSignal(agent: { registered: boolean }, stop: () => Promise<void>, noReconnect: boolean): Promise<number> {
  return new Promise<number>((resolve) => {
    let watch: NodeJS.Timeout | null = null;
    let finishing = false;
    const finish = (code: number): void => {
      if (finishing) return;
      finishing = true;
      if (watch) clearInterval(watch);
      void stop().then(() => resolve(code));
    };
    process.once('SIGINT', () => finish(0));
    process.once('SIGTERM', () => finish(0));
    if (noReconnect) watch = setInterval(() => agent.registered || finish(1), 500);
  });
}
