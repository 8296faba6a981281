import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below `dir` whose name matches, skipping the named folders (a missing `dir` has none). */
export function walkFiles(dir: string, matches: (name: string) => boolean, skip: ReadonlySet<string> = new Set(['node_modules'])): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    if (skip.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walkFiles(path, matches, skip);
    return matches(name) ? [path] : [];
  });
}
