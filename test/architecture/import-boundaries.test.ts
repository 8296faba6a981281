import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) {
    found.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return found;
}

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir + sep);

/** Every import that crosses a boundary of ARCHITECTURE.md, as "file: import" lines. */
export function boundaryViolations(base: string, pluginDirs: string[]): string[] {
  const src = join(base, 'src');
  const pluginApi = join(src, 'plugin-api', 'index.ts');
  const violations: string[] = [];
  const check = (file: string, allowed: (target: string) => boolean) => {
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue; // packages are fine
      const target = resolve(dirname(file), spec);
      if (!allowed(target)) violations.push(`${relative(base, file)}: ${spec}`);
    }
  };
  for (const dir of pluginDirs) {
    for (const file of sourceFiles(dir)) check(file, (target) => inside(target, dir) || target === pluginApi);
  }
  for (const file of sourceFiles(src)) {
    if (file === join(src, 'main.ts')) continue; // the composition root lists the plugins
    if (inside(file, join(src, 'contracts'))) check(file, (target) => inside(target, join(src, 'contracts')));
    // src/lib: small utilities with no dependency on the core, shared by the API and the agent.
    else if (inside(file, join(src, 'lib'))) check(file, (target) => inside(target, join(src, 'lib')));
    else if (inside(file, join(src, 'agent'))) check(file, (target) => inside(target, join(src, 'agent')) || inside(target, join(src, 'contracts')) || inside(target, join(src, 'lib')));
    else check(file, (target) => inside(target, src) && !inside(target, join(src, 'agent')));
  }
  return violations;
}

function pluginDirsOf(base: string): string[] {
  const dirs = [join(base, 'test', 'fixtures', 'example-plugin')];
  try {
    for (const id of readdirSync(join(base, 'plugins'))) if (statSync(join(base, 'plugins', id)).isDirectory()) dirs.push(join(base, 'plugins', id));
  } catch {
    // no plugins yet
  }
  return dirs;
}

test('plugins import the core only through src/plugin-api, and the core never imports a plugin', (t) => {
  t.deepEqual(boundaryViolations(root, pluginDirsOf(root)), []);
});

test('the check catches a plugin reaching into core internals or another plugin, and the core reaching into a plugin', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'boundaries-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), text);
  };
  write('src/plugin-api/index.ts', 'export {};\n');
  write('src/core/db/database.ts', 'export {};\n');
  write('src/core/leaky.ts', "import { x } from '../../plugins/game/index.ts';\n");
  write('src/contracts/agent.ts', "import { y } from '../core/db/database.ts';\n");
  write('plugins/game/index.ts', "import { definePlugin } from '../../src/plugin-api/index.ts';\nimport { openDatabase } from '../../src/core/db/database.ts';\nimport { other } from '../dev/index.ts';\nimport { z } from 'zod';\n");
  write('plugins/dev/index.ts', "export const other = await import('../game/index.ts');\n");
  const found = boundaryViolations(base, [join(base, 'plugins', 'game'), join(base, 'plugins', 'dev')]);
  t.deepEqual(found.sort(), [
    'plugins/dev/index.ts: ../game/index.ts',
    'plugins/game/index.ts: ../../src/core/db/database.ts',
    'plugins/game/index.ts: ../dev/index.ts',
    'src/contracts/agent.ts: ../core/db/database.ts',
    'src/core/leaky.ts: ../../plugins/game/index.ts',
  ]);
});
