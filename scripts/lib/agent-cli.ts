import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The options every agent script takes. */
export const commonAgentOptions = {
  url: { type: 'string' },
  'agent-id': { type: 'string' },
  'key-file': { type: 'string' },
  region: { type: 'string' },
  'no-reconnect': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

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

export function usageError(message: string): number {
  process.stderr.write(`${message}\n\nRun with --help for usage.\n`);
  return 2;
}

/**
 * Parses the command line; a number is the exit code to stop with (0 after --help, 2 after a
 * usage error: an unknown flag, a missing value, a stray positional).
 */
type Values<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: O }>>['values'];

export function parseAgentArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, help: string): Values<O> | number {
  let values: Values<O>;
  try {
    values = parseArgs({ args, options }).values;
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    return 0;
  }
  return values;
}
