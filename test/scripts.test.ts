import test from 'ava';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));

for (const script of readdirSync(`${root}scripts`).filter((f) => f.endsWith('.ts'))) {
  test(`scripts/${script} --help explains itself and exits 0`, async (t) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `scripts/${script}`, '--help'], { cwd: root });
    t.regex(stdout, /^Usage: /);
  });
}

test('scripts/cluster refuses several replicas on the embedded database and says why', async (t) => {
  const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', '--replicas', '3'], { cwd: root, env: { ...process.env, DATABASE_URL: '' } }).then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );
  t.truthy(failed, 'it did not start');
  t.not(failed?.code, 0);
  t.regex(failed?.stderr ?? '', /PostgreSQL.*PGlite\) serves one process/);
});

test('scripts/bench-vnc-replicas refuses to run without PostgreSQL and says why', async (t) => {
  const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/bench-vnc-replicas.ts'], { cwd: root }).then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );
  t.is(failed?.code, 2);
  t.regex(failed?.stderr ?? '', /--database-url is required: two replicas need PostgreSQL/);
});
