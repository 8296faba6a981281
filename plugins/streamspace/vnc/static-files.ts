import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Context } from 'koa';
import { MethodNotAllowedError } from '../../../src/plugin-api/index.ts';

/** A file read into memory once, with what its answer needs. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The only kinds of file served; anything else under a served folder is left out. */
const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export function staticFile(body: Buffer, name: string): StaticFile {
  const contentType = contentTypes[extname(name)];
  if (!contentType) throw new Error(`no content type for ${name}`);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

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
      else if (entry.isFile() && contentTypes[extname(entry.name)]) files.set(path, staticFile(readFileSync(join(root, path)), entry.name));
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

/** Answers GET and HEAD with the file (304 when the client's copy is current); other methods 405. */
export function sendFile(ctx: Context, file: StaticFile, cacheControl: string): void {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new MethodNotAllowedError(['GET', 'HEAD']);
  ctx.set({
    'Content-Type': file.contentType,
    ETag: file.etag,
    'Cache-Control': cacheControl,
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  const seen = ctx.get('If-None-Match');
  if (seen !== '' && seen.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.status = 200;
  ctx.body = file.body;
}
