import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFiles } from '../helpers/walk-files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const maxLines = 300;

const sourceFiles = (dir: string): string[] => walkFiles(dir, (name) => /\.(ts|js|mjs)$/.test(name));

/** Generated files (the typed client's schema.d.ts) say so in their first lines; their length is the document's, not a design choice. */
const generated = (text: string): boolean => /^\/\*\*\n \* GENERATED FILE/.test(text);

/** One concept per file keeps files short: a file past the limit holds more than one. */
test(`no source, script, client or test file is over ${maxLines} lines`, (t) => {
  const long = ['src', 'plugins', 'scripts', 'clients', 'test']
    .flatMap((d) => sourceFiles(join(root, d)))
    .map((file) => ({ file: relative(root, file), text: readFileSync(file, 'utf8') }))
    .filter(({ text }) => !generated(text))
    .map(({ file, text }) => ({ file, lines: text.split('\n').length - 1 }))
    .filter(({ lines }) => lines > maxLines)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  t.deepEqual(long, []);
});
