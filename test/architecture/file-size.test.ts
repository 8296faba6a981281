import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFiles } from '../helpers/walk-files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const maxLines = 300;

const sourceFiles = (dir: string): string[] => walkFiles(dir, (name) => /\.(ts|js|mjs)$/.test(name));

/** One concept per file keeps files short: a file past the limit holds more than one. */
test(`no source, script or test file is over ${maxLines} lines`, (t) => {
  const long = ['src', 'plugins', 'scripts', 'test']
    .flatMap((d) => sourceFiles(join(root, d)))
    .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > maxLines)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  t.deepEqual(long, []);
});
