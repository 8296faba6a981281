import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFiles } from '../helpers/walk-files.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

const sourceFiles = (dir: string): string[] => walkFiles(dir, (name) => /\.(ts|js|mjs)$/.test(name), new Set());

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
  const check = (file: string, allowed: (target: string) => boolean, allowedPackage: (name: string) => boolean = () => true) => {
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) {
        if (!allowedPackage(spec)) violations.push(`${relative(base, file)}: ${spec}`);
        continue;
      }
      const target = resolve(dirname(file), spec);
      if (!allowed(target)) violations.push(`${relative(base, file)}: ${spec}`);
    }
  };
  for (const dir of pluginDirs) {
    const contract = join(dir, 'contract');
    for (const file of sourceFiles(dir)) {
      // A plugin's contract/ is the wire format its agents speak: self-contained, so an agent can take it without the plugin or the core.
      if (inside(file, contract))
        check(
          file,
          (target) => inside(target, contract),
          (name) => name === 'zod' || name.startsWith('node:'),
        );
      else check(file, (target) => inside(target, dir) || target === pluginApi);
    }
  }
  // scripts/ (simulated agents, benches, admin tools) may use src/ and test/ freely, but of a plugin only its contract/.
  // plugins/index.ts, the list of shipped plugins, lies outside every plugin: migrate.ts needs it, like src/main.ts.
  for (const file of sourceFiles(join(base, 'scripts'))) {
    check(file, (target) => pluginDirs.every((dir) => !inside(target, dir) || inside(target, join(dir, 'contract'))));
  }
  // clients/typescript is what API users copy into their own projects: its own files, openapi-fetch, ws and Node's modules, nothing of the API's.
  const client = join(base, 'clients', 'typescript');
  for (const file of sourceFiles(client)) {
    check(
      file,
      (target) => inside(target, client),
      (name) => name === 'openapi-fetch' || name === 'ws' || name.startsWith('node:'),
    );
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

test('plugins import the core only through src/plugin-api, the core never imports a plugin, scripts reach a plugin only through its contract/, and the typed client stands alone', (t) => {
  t.deepEqual(boundaryViolations(root, pluginDirsOf(root)), []);
});

test('the check catches a plugin reaching into core internals or another plugin, the core reaching into a plugin, a contract/ reaching outside itself, a script reaching past a contract/, and the typed client reaching into the API', (t) => {
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
  write(
    'plugins/game/index.ts',
    "import { definePlugin } from '../../src/plugin-api/index.ts';\nimport { openDatabase } from '../../src/core/db/database.ts';\nimport { other } from '../dev/index.ts';\nimport { z } from 'zod';\n",
  );
  write('plugins/dev/index.ts', "export const other = await import('../game/index.ts');\n");
  write('plugins/index.ts', "import { definePlugin } from '../src/plugin-api/index.ts';\nimport { game } from './game/index.ts';\n");
  write(
    'plugins/game/contract/wire.ts',
    "import { z } from 'zod';\nimport { Buffer } from 'node:buffer';\nimport { frames } from './frames.ts';\nimport { WebSocket } from 'ws';\nimport { hub } from '../hub.ts';\nimport { definePlugin } from '../../../src/plugin-api/index.ts';\n",
  );
  write('plugins/game/contract/frames.ts', 'export const frames = 1;\n');
  write('plugins/game/hub.ts', "import { frames } from './contract/frames.ts';\n");
  write(
    'scripts/sim.ts',
    "import { wire } from '../plugins/game/contract/wire.ts';\nimport { openDatabase } from '../src/core/db/database.ts';\nimport { shipped } from '../plugins/index.ts';\nimport { hub } from '../plugins/game/hub.ts';\nimport { fake } from '../test/fakes/fake.ts';\n",
  );
  write('scripts/lib/deep.ts', "import { ws } from 'ws';\nimport { other } from '../../plugins/dev/index.ts';\nimport { frames } from '../../plugins/game/contract/frames.ts';\n");
  write(
    'clients/typescript/src/client.ts',
    "import createClient from 'openapi-fetch';\nimport { ws } from 'ws';\nimport type { paths } from './schema.d.ts';\nimport { z } from 'zod';\nimport { errorEnvelopeSchema } from '../../../src/core/http/error-envelope.ts';\n",
  );
  const found = boundaryViolations(base, [join(base, 'plugins', 'game'), join(base, 'plugins', 'dev')]);
  t.deepEqual(found.sort(), [
    'clients/typescript/src/client.ts: ../../../src/core/http/error-envelope.ts',
    'clients/typescript/src/client.ts: zod',
    'plugins/dev/index.ts: ../game/index.ts',
    'plugins/game/contract/wire.ts: ../../../src/plugin-api/index.ts',
    'plugins/game/contract/wire.ts: ../hub.ts',
    'plugins/game/contract/wire.ts: ws',
    'plugins/game/index.ts: ../../src/core/db/database.ts',
    'plugins/game/index.ts: ../dev/index.ts',
    'scripts/lib/deep.ts: ../../plugins/dev/index.ts',
    'scripts/sim.ts: ../plugins/game/hub.ts',
    'src/contracts/agent.ts: ../core/db/database.ts',
    'src/core/leaky.ts: ../../plugins/game/index.ts',
  ]);
});
