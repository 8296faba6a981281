import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFiles } from '../helpers/walk-files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

const sourceFiles = (dir: string): string[] => walkFiles(dir, (name) => name.endsWith('.ts'));

/** Relative imports of a file, type-only ones included: a cycle of types is still a cycle of concepts. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    found.push(resolve(dirname(file), (m[1] ?? m[2]) as string));
  }
  return found;
}

/** Every import cycle among the TypeScript files under `dirs`, each as "a -> b -> a" (Tarjan's strongly connected components). */
export function importCycles(base: string, dirs: string[]): string[] {
  const files = dirs.flatMap((d) => sourceFiles(join(base, d)));
  const known = new Set(files);
  const edges = new Map(files.map((f) => [f, relativeImports(f).filter((t) => known.has(t))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (;;) {
      const w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    const selfLoop = (edges.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) cycles.push([...component.reverse(), component[0] as string].map((f) => relative(base, f)).join(' -> '));
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles.sort();
}

test('no import cycles in src/, plugins/, scripts/ or clients/ (type-only imports count)', (t) => {
  t.deepEqual(importCycles(root, ['src', 'plugins', 'scripts', 'clients']), []);
});

test('the check finds a cycle through a type-only import, and passes a tree without one', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'cycles-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), text);
  };
  write('src/a.ts', "import { b } from './b.ts';\nexport const a = b;\n");
  write('src/b.ts', "import type { C } from './lib/c.ts';\nexport const b = 1;\n");
  write('src/lib/c.ts', "import type { a } from '../a.ts';\nexport type C = typeof a;\n");
  write('src/d.ts', "import { b } from './b.ts';\nexport const d = b;\n");
  t.deepEqual(importCycles(base, ['src']), ['src/a.ts -> src/b.ts -> src/lib/c.ts -> src/a.ts']);
  write('src/lib/c.ts', 'export type C = number;\n');
  t.deepEqual(importCycles(base, ['src']), []);
});
