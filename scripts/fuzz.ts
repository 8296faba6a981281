import { option } from './lib/bench-server.ts';

const help = `Usage: npm run fuzz -- [--seed N] [--runs N] [--operation ID[,ID...]] [--path P] [--database-url URL]

Fuzzes every operation of the served OpenAPI document of a real app (every shipped plugin,
a game server and a dev container on local reference agents, a StreamSpace session on a
simulated agent). Each operation is first sent a valid request by every identity (nobody,
alg:none, another key, expired, another audience, the other API's token, another user on the
owner's ids, the owner, an admin), then N cases generated from its schemas and mutated (wrong
types, missing and extra fields, NUL and control characters, 100 KB strings, bad numbers,
invalid UTF-8, deep and invalid JSON, duplicate keys, wrong Content-Type and Content-Encoding,
bodies over the limit, bad path ids and traversal, repeated query parameters). Every answer is
judged: no undeclared 5xx, the error envelope with request_id = X-Request-Id on every non-2xx,
401 first for callers who are not signed in, no 2xx for another user on the owner's ids, no
stack, SQL or server path in a body, and /healthz within 1 s after each operation.

Prints a progress line per operation, each failure with the line that replays it, then one
JSON line: seed, runs_per_operation, operations_covered, requests_sent, failures, seconds.
Exits 1 when anything failed. The test suite runs the same code with a fixed seed
(test/robustness/route-fuzz.test.ts). Traffic goes to 127.0.0.1 only; every loop is bounded.

Options:
  --seed <n>              fast-check seed (default: the time; printed, so a run can be replayed)
  --runs <n>              mutated cases per operation (default 200)
  --operation <ids>       only these operationIds (comma-separated), e.g. postApiAuthLogin
  --path <p>              fast-check's path of a failing case (with --seed and one --operation)
  --database-url <url>    a PostgreSQL server (a scratch database is made on it) instead of PGlite
  -h, --help              show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const seed = Number(option(args, '--seed') ?? Date.now() % 2 ** 31);
const runs = Number(option(args, '--runs') ?? 200);
const operations = (option(args, '--operation') ?? '').split(',').filter(Boolean);
const path = option(args, '--path');
const databaseUrl = option(args, '--database-url');
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write('--seed and --runs take integers (runs >= 1)\n');
  process.exit(2);
}
// Read by the test-database helper when it loads: set before the stand is imported.
if (databaseUrl) process.env.TEST_DATABASE_URL = databaseUrl;

const { startStand, fuzzBodyLimitBytes } = await import('./lib/fuzz-stand.ts');
const { runFuzz } = await import('./lib/fuzz-run.ts');
const { closeConnections } = await import('./lib/fuzz-http.ts');

process.stdout.write(`fuzzing with --seed ${seed} --runs ${runs}${operations.length ? ` --operation ${operations.join(',')}` : ''}${path ? ` --path ${path}` : ''}\n`);
const stand = await startStand();
let failed = true;
try {
  const { figures, failures } = await runFuzz(stand, { seed, runs, operations, path, bodyLimitBytes: fuzzBodyLimitBytes, progress: (line) => process.stdout.write(`${line}\n`) });
  for (const f of failures) {
    process.stdout.write(
      `\nFAIL ${f.operation} as ${f.identity}, mutation ${JSON.stringify(f.mutation).slice(0, 200)}\n  ${f.request.method} ${f.request.path}\n  answered ${f.status ?? 'nothing'}: ${f.problems.join('; ')}\n  replay: npm run fuzz -- ${f.replay}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  failed = failures.length > 0;
} finally {
  closeConnections();
  await stand.close();
}
process.exit(failed ? 1 : 0);
