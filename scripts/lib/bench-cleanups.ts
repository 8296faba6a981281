export interface BenchCleanups {
  /** Registers something to stop; all are stopped in reverse order. */
  push(cleanup: () => Promise<void> | void): void;
  /** Stops everything registered so far (each failure is printed, not thrown). */
  run(): Promise<void>;
  /** True once SIGINT or SIGTERM arrived: what fails then is only the cleanup pulling connections from under the bench. */
  readonly interrupted: boolean;
}

/**
 * What a bench started (servers, agents, databases), stopped in reverse order after a failure
 * and on SIGINT/SIGTERM too, so a Ctrl-C leaves no child process or scratch database behind.
 */
export function benchCleanups(): BenchCleanups {
  const cleanups: Array<() => Promise<void> | void> = [];
  let interrupted = false;
  const run = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`${signal}: cleaning up\n`);
      void run().finally(() => process.exit(130));
    });
  }
  return {
    push: (c) => void cleanups.push(c),
    run,
    get interrupted() {
      return interrupted;
    },
  };
}
