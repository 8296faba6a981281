import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFiles } from '../helpers/walk-files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Folders that hold no documentation of ours: dependencies, git internals, embedded databases and instances. */
const skipped = new Set(['node_modules', '.git', 'data', '.cache']);

const markdownFiles = (dir: string): string[] => walkFiles(dir, (name) => name.endsWith('.md'), skipped);

/**
 * The text with fenced code blocks and inline code blanked out (lengths kept, so line numbers
 * stay right): `[i](x)` inside code is an example, not a link.
 */
function withoutCode(text: string): string {
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, blank).replace(/(`+)[^`\n][\s\S]*?\1/g, blank);
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images, `[text](target)` and `[text](target "title")`. */
function linksOf(text: string): Link[] {
  const prose = withoutCode(text);
  const links: Link[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
    const raw = (m[1] as string).replace(/^<|>$/g, '');
    links.push({ line: prose.slice(0, m.index).split('\n').length, target: raw });
  }
  return links;
}

/** Links the checker leaves alone: other schemes (http:, https:, mailto:...) and anchors within the same file. */
const external = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#') || target === '';

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * Every problem with the markdown of the tree at `base`, as "file:line: ..." lines: a relative
 * link whose file does not exist, a link that leaves the repository, and any mention of the
 * design folder beside the repository (`../shared/`), which readers of the repository do not have.
 */
export function markdownProblems(base: string): string[] {
  const problems: Array<{ file: string; line: number; text: string }> = [];
  const report = (file: string, line: number, text: string) => problems.push({ file, line, text: `${file}:${line}: ${text}` });
  for (const file of markdownFiles(base)) {
    const text = readFileSync(file, 'utf8');
    const name = relative(base, file);
    text.split('\n').forEach((line, i) => {
      if (line.includes('../shared/')) report(name, i + 1, 'refers to ../shared/, which is not part of the repository');
    });
    for (const link of linksOf(text)) {
      if (external(link.target)) continue;
      let path = link.target.replace(/[#?].*$/, '');
      try {
        path = decodeURIComponent(path);
      } catch {
        // keep it as written; the existence check reports it
      }
      const target = path.startsWith('/') ? join(base, path) : resolve(dirname(file), path);
      if (!inside(target, resolve(base))) report(name, link.line, `link to ${link.target} leaves the repository`);
      else if (!existsSync(target)) report(name, link.line, `link to ${link.target}, which does not exist`);
    }
  }
  return problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line).map((p) => p.text);
}

test('every relative markdown link in the repository points at a file that exists, and none at ../shared/', (t) => {
  t.deepEqual(markdownProblems(root), []);
});

test('the check catches a broken link, a link out of the repository and a mention of ../shared/', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'md-links-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), text);
  };
  write('src/app.ts', 'export {};\n');
  write(
    'README.md',
    [
      '# Title',
      'Good: [architecture](docs/architecture.md#layers), [source](src/app.ts), [anchor](#title), [web](https://example.com/x.md), [mail](mailto:a@example.com).',
      'Broken: [api](docs/api.md).',
      'Outside: [design](../elsewhere/ARCHITECTURE.md).',
      'The old pointer: `../shared/API.md`.',
      '```md',
      '[in a code block](docs/nowhere.md)',
      '```',
      'Inline code is not a link either: `[x](docs/nowhere.md)`.',
      '',
    ].join('\n'),
  );
  write('docs/architecture.md', '# Layers\n\nBack to the [README](../README.md); see [the missing one](./plugins.md#writing "title").\n');
  write('node_modules/pkg/README.md', '[ignored](nowhere.md)\n');
  write('data/notes.md', '[ignored](nowhere.md)\n');
  t.deepEqual(markdownProblems(base), [
    'README.md:3: link to docs/api.md, which does not exist',
    'README.md:4: link to ../elsewhere/ARCHITECTURE.md leaves the repository',
    'README.md:5: refers to ../shared/, which is not part of the repository',
    'docs/architecture.md:3: link to ./plugins.md#writing, which does not exist',
  ]);
});
