import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('redocly lint (recommended-strict, redocly.yaml) finds no error in the shipped document', async (t) => {
  const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/openapi-lint.ts'], { cwd: root, env: { ...process.env }, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: `${err.stdout}\n${err.stderr}` }),
  );
  const figures = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { errors?: number; warnings?: number; operations?: number };
  t.is(run.code, 0, run.stdout);
  t.is(figures.errors, 0, run.stdout);
  t.is(figures.warnings, 0, run.stdout);
  t.true((figures.operations ?? 0) > 100, 'every shipped plugin is in the document');
});
