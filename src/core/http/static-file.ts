import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import type { Context } from 'koa';
import { MethodNotAllowedError } from './errors.ts';

/**
 * A file the API serves from memory (the /docs page's assets, the noVNC viewer's), read once,
 * with what its answer needs. One definition for the core and the plugins (through plugin-api),
 * so every page the API serves answers with the same headers and conditional requests.
 */
export interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** The only kinds of file served; anything else is refused when the set is built. */
const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Whether a file of this name is of a kind `staticFile` serves. */
export function isServableName(name: string): boolean {
  return contentTypes[extname(name)] !== undefined;
}

/** The file with its content type (from the name's extension) and a strong ETag of its bytes. */
export function staticFile(body: Buffer, name: string): StaticFile {
  const contentType = contentTypes[extname(name)];
  if (!contentType) throw new Error(`no content type for ${name}`);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
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
