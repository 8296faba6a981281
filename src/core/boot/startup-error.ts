/**
 * Boot stops with this when the environment is not what the configuration says: a port that is
 * taken, a database that does not exist, a data directory that cannot be written. The message is
 * one line for the operator, naming the setting and what to do next; `cause` is the error
 * underneath, which goes to the debug log rather than the terminal.
 */
export class StartupError extends Error {
  constructor(
    /** The environment variable at fault (PORT, DATABASE_URL, DATA_DIR...). */
    readonly setting: string,
    /** What is wrong and what to do next, in one line, without the setting's name. */
    problem: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${setting}: ${problem}`, options);
    this.name = 'StartupError';
  }
}

/** The errno-style code of a system error (EADDRINUSE, ECONNREFUSED...), looking inside an AggregateError. */
export function systemCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const inner = (err as { errors?: unknown }).errors;
  return Array.isArray(inner) ? systemCode(inner[0]) : undefined;
}
