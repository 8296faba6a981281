import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StaticFile } from '../../../src/plugin-api/index.ts';
import { readTree } from './static-files.ts';

/** The noVNC files the browser needs: the library and the inflate code it vendors. */
const servedDirs = ['core', 'vendor'] as const;

export interface NovncAssets {
  version: string;
  /** Keyed by the path inside the package (`core/rfb.js`, `vendor/pako/lib/zlib/inflate.js`). */
  files: ReadonlyMap<string, StaticFile>;
}

/**
 * noVNC (`@novnc/novnc`, an ES-module package) as installed with the API, found the way Node
 * resolves the import (its `exports` is `core/rfb.js`, so the package folder is one up from
 * there), and read into memory: its `core/` and `vendor/` JavaScript, nothing else of it.
 */
export function novncAssets(): NovncAssets {
  const entry = import.meta.resolve('@novnc/novnc');
  const root = fileURLToPath(new URL('..', entry));
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name?: string; version?: string };
  if (pkg.name !== '@novnc/novnc' || typeof pkg.version !== 'string') throw new Error(`@novnc/novnc resolved to ${entry}, which is not the noVNC package`);
  const files = readTree(root, servedDirs);
  if (!files.has('core/rfb.js')) throw new Error(`noVNC at ${root} has no core/rfb.js`);
  return { version: pkg.version, files };
}
