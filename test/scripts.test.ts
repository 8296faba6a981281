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
