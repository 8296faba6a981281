// Plain JavaScript, not TypeScript: this builds the JavaScript, so it must run before any exists
// and without tsx (`npm start` runs it when dist/ is missing or stale).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../', import.meta.url));
export const distDir = join(root, 'dist');
const stampFile = join(distDir, '.build-stamp');
const lockDir = join(root, '.dist-build.lock');

/** What the build is made from: a change to any of these (or to this script) makes dist/ stale. */
const inputDirs = ['src', 'plugins', 'migrations'];
const inputFiles = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs'];

const help = `Usage: npm run build [-- --if-stale]

Compiles src/, plugins/ and migrations/ to JavaScript in dist/ with tsc (tsconfig.build.json:
relative .ts imports rewritten to .js, no type check: that is npm run typecheck's job), copies the
files they read beside themselves at run time (the noVNC viewer page), and writes dist/.build-stamp,
a fingerprint of every input (path, size, mtime), which npm start compares to decide whether to build
again. It builds into a temporary directory and swaps it in, so a removed source (a migration) leaves
no stale output behind, and an interrupted build leaves the previous dist/ whole. config/ is not copied:
the build reads the checkout's config/ at run time.

Options:
  --if-stale   build only when dist/ is missing or its stamp differs from the sources
  -h, --help   show this help
`;

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

/** A hash of every input's path, size and mtime: a few hundred stat calls, a few milliseconds. */
export function sourceFingerprint() {
  const hash = createHash('sha256');
  const files = [...inputDirs.flatMap((d) => walk(join(root, d))), ...inputFiles.map((f) => join(root, f))].sort();
  for (const file of files) {
    const stat = statSync(file, { throwIfNoEntry: false });
    hash.update(`${relative(root, file)}\0${stat ? `${stat.size}:${stat.mtimeMs}` : 'missing'}\n`);
  }
  return hash.digest('hex');
}

export function isStale() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8')).fingerprint !== sourceFingerprint();
  } catch {
    return true;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** One build at a time per checkout (two `npm start` at once): a lock directory holding the builder's pid. */
async function withLock(fn) {
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code === 'EACCES' || err.code === 'EROFS' || err.code === 'EPERM') {
        // A read-only checkout (deploy/hosting-panel.service): whoever owns it builds.
        throw new Error(`dist/ must be built and this user cannot write ${root}; run npm run build there as its owner`, { cause: err });
      }
      if (err.code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }));
      if (holder > 0 && !alive(holder)) rmSync(lockDir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function copyRunTimeFiles(outDir) {
  for (const file of inputDirs.flatMap((d) => walk(join(root, d)))) {
    if (file.endsWith('.ts')) continue;
    const target = join(outDir, relative(root, file));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target);
  }
}

/** Builds dist/ (when `ifStale`, only if it is stale); resolves true when it built, throws when tsc fails. */
export async function build({ ifStale = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (ifStale && !isStale()) return false;
  return withLock(() => {
    if (ifStale && !isStale()) return false; // another process built it while this one waited
    const fingerprint = sourceFingerprint();
    const started = Date.now();
    log('building dist/ from the sources (tsc -p tsconfig.build.json)');
    const outDir = join(root, `.dist-build-${process.pid}`);
    rmSync(outDir, { recursive: true, force: true });
    let tsc;
    try {
      tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    } catch {
      throw new Error('dist/ must be built, and TypeScript is not installed (a devDependency: npm install without --omit=dev), or run npm run build where it is and ship dist/ along');
    }
    const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (run.status !== 0) {
      rmSync(outDir, { recursive: true, force: true });
      throw new Error(`tsc failed (exit ${run.status ?? run.signal}); dist/ is left as it was`);
    }
    copyRunTimeFiles(outDir);
    writeFileSync(join(outDir, '.build-stamp'), `${JSON.stringify({ fingerprint, built_at: new Date().toISOString() })}\n`);
    const old = join(root, `.dist-old-${process.pid}`);
    if (existsSync(distDir)) renameSync(distDir, old);
    renameSync(outDir, distDir);
    rmSync(old, { recursive: true, force: true });
    log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    process.exit(0);
  }
  const unknown = args.find((a) => a !== '--if-stale');
  if (unknown) {
    process.stderr.write(`unknown argument "${unknown}"\n\n${help}`);
    process.exit(2);
  }
  try {
    const built = await build({ ifStale: args.includes('--if-stale') });
    if (!built) process.stderr.write('dist/ is up to date\n');
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
