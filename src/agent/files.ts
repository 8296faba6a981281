import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { sendFileRange } from './ranges.ts';

export class FileError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const outside = (): FileError => new FileError(400, 'path_outside_root', 'the path leaves the data directory');

export interface FileEntry {
  name: string;
  type: 'file' | 'dir';
  size_bytes: number;
  modified_at: string;
}

/**
 * The contract's file endpoints over the instance's data directory. Every path is resolved
 * inside it: `..`, absolute paths and symlinks (anywhere on the way) that lead outside are
 * refused. Uploads stream to a temporary file beside the target and are renamed into place
 * only when complete, so a failed or oversized upload never leaves a partial file.
 */
export class Files {
  constructor(
    private readonly root: string,
    private readonly maxUploadBytes: number,
  ) {}

  /** The absolute path inside the root, following symlinks only where they stay inside. */
  async resolve(path: string, mustExist: boolean): Promise<string> {
    if (path.includes('\0')) throw new FileError(400, 'bad_path', 'the path contains NUL');
    const cleaned = path.replace(/^\/+/, '');
    if (isAbsolute(cleaned)) throw outside();
    const root = await realpath(this.root);
    const target = resolve(root, cleaned);
    if (target !== root && !target.startsWith(`${root}${sep}`)) throw outside();
    // The nearest existing ancestor (or the target itself) must really be inside, symlinks followed.
    let probe = target;
    for (;;) {
      try {
        const real = await realpath(probe);
        if (real !== root && !real.startsWith(`${root}${sep}`)) throw outside();
        break;
      } catch (err) {
        if (err instanceof FileError) throw err;
        if (mustExist && probe === target) throw new FileError(404, 'not_found', 'no such file or directory');
        if (probe === root) break;
        probe = dirname(probe);
      }
    }
    return target;
  }

  private async entry(path: string): Promise<FileEntry> {
    const s = await stat(path);
    return { name: basename(path), type: s.isDirectory() ? 'dir' : 'file', size_bytes: s.isDirectory() ? 0 : s.size, modified_at: s.mtime.toISOString() };
  }

  async list(path: string): Promise<{ path: string; entries: FileEntry[] }> {
    const dir = await this.resolve(path, true);
    if (!(await stat(dir)).isDirectory()) throw new FileError(400, 'not_a_directory', 'the path is a file');
    const names = await readdir(dir);
    const entries: FileEntry[] = [];
    for (const name of names.sort()) {
      // A symlink leading out of the data directory is not shown as if it were inside.
      const inside = await this.resolve(relative(await realpath(this.root), join(dir, name)), true).then(
        () => true,
        () => false,
      );
      if (inside) entries.push(await this.entry(join(dir, name)));
    }
    return {
      path:
        `/${relative(await realpath(this.root), dir)
          .split(sep)
          .join('/')}`.replace(/\/$/, '') || '/',
      entries,
    };
  }

  /** Streams a file, whole or the one byte range asked for (ranges.ts); the ETag changes with any write (a rename makes a new inode). */
  async download(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = await this.resolve(path, true);
    const s = await stat(file);
    if (s.isDirectory()) throw new FileError(400, 'is_a_directory', 'the path is a directory');
    const etag = `"${s.ino.toString(36)}-${s.size.toString(36)}-${Math.round(s.mtimeMs * 1000).toString(36)}"`;
    await sendFileRange(req, res, file, s.size, { etag, lastModified: s.mtime }, { 'Content-Type': 'application/octet-stream' });
  }

  async upload(path: string, req: IncomingMessage): Promise<FileEntry> {
    const file = await this.resolve(path, false);
    if ((await lstat(file).catch(() => null))?.isDirectory()) throw new FileError(400, 'is_a_directory', 'the path is a directory');
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxUploadBytes) throw new FileError(413, 'too_large', `uploads are limited to ${this.maxUploadBytes} bytes`);
    await mkdir(dirname(file), { recursive: true });
    const temp = join(dirname(file), `.${basename(file)}.upload-${randomBytes(6).toString('hex')}`);
    let size = 0;
    const limit = this.maxUploadBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > limit) done(new FileError(413, 'too_large', `uploads are limited to ${limit} bytes`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(req, counter, createWriteStream(temp, { flags: 'wx' }));
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      if (err instanceof FileError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new FileError(507, 'disk_full', 'the disk is full');
      throw new FileError(400, 'upload_aborted', 'the upload did not complete');
    }
    return this.entry(file);
  }

  async remove(path: string): Promise<void> {
    const target = await this.resolve(path, true);
    if (target === (await realpath(this.root))) throw new FileError(400, 'bad_path', 'the data directory itself cannot be deleted');
    await rm(target, { recursive: true, force: false });
  }

  async mkdir(path: string): Promise<FileEntry> {
    const target = await this.resolve(path, false);
    if (await lstat(target).catch(() => null)) throw new FileError(409, 'exists', 'something already exists at this path');
    await mkdir(target, { recursive: true });
    return this.entry(target);
  }
}
