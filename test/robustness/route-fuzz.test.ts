import test from 'ava';
import { closeConnections } from '../../scripts/lib/fuzz-http.ts';
import { runFuzz } from '../../scripts/lib/fuzz-run.ts';
import { fuzzBodyLimitBytes, startStand, type Stand } from '../../scripts/lib/fuzz-stand.ts';

/**
 * Every operation of the served OpenAPI document, fuzzed with a fixed seed and a bounded count
 * (docs/robustness.md "Fuzzing every route"). `npm run fuzz -- --seed N --runs N` runs the same
 * code for longer; a failure here prints the line that replays it.
 */
const seed = 20261203;
const runs = 40;

let stand: Stand;

test.before(async () => {
  stand = await startStand();
});

test.after.always(async () => {
  closeConnections();
  await stand?.close();
});

test('every route, fuzzed by every identity with schema-made and mutated inputs, keeps every oracle', async (t) => {
  t.timeout(110_000);
  const { figures, failures } = await runFuzz(stand, { seed, runs, bodyLimitBytes: fuzzBodyLimitBytes });
  t.log(JSON.stringify(figures));
  const report = failures.map(
    (f) =>
      `${f.operation} as ${f.identity}, ${JSON.stringify(f.mutation).slice(0, 160)}\n  ${f.request.method} ${f.request.path}\n  ${f.status ?? 'no answer'}: ${f.problems.join('; ')}\n  replay: npm run fuzz -- ${f.replay}`,
  );
  t.deepEqual(report, [], `the fuzzer found ${failures.length} failures`);
  // A route added tomorrow is covered without a test naming it: every operation of the document got requests.
  t.is(figures.operations_covered, figures.operations_total);
  t.true(figures.operations_total >= 100, `the document lists ${figures.operations_total} operations`);
});
