import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isServableName, staticFile, type StaticFile } from '../../../src/plugin-api/index.ts';

/**
 * Every regular file of a known type under `root/dir` for each of `dirs`, keyed by its path
 * relative to `root` (`core/rfb.js`). Symbolic links and other types are skipped, so what is
 * served is exactly this list: a request can only name one of its keys, never walk the disk.
 */
export function readTree(root: string, dirs: readonly string[]): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && isServableName(entry.name)) files.set(path, staticFile(readFileSync(join(root, path)), entry.name));
    }
  };
  for (const dir of dirs) walk(dir);
  return files;
}

/**
 * The file path a request names, from the raw (still percent-encoded) rest of its path, or
 * null when it is not a plain relative path: an empty, `.` or `..` segment, or one that
 * decodes to a slash, a backslash or a control character, is refused (as encoded as it may be).
 */
export function requestedPath(rawRest: string): string | null {
  const segments: string[] = [];
  for (const raw of rawRest.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    // Control characters are refused on purpose: no file name here has one.
    // eslint-disable-next-line no-control-regex
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\x00-\x1f\x7f]/.test(segment)) return null;
    segments.push(segment);
  }
  return segments.join('/');
}
