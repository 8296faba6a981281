import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AgentBackup, LastRestore } from '../contracts/agent.ts';
import type { Workload } from './workload.ts';
import { sendFileRange } from './ranges.ts';

export class BackupError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function tar(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar ${args[0]} failed (${code}): ${err.trim()}`))));
  });
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Backups are gzip-compressed tar archives of the data directory, with a metadata file
 * each. A restore stops the workload, unpacks beside the data directory and swaps it in
 * with renames, so the data directory is never half-written.
 */
export class Backups {
  private busy: string | null = null;
  /** How the last restore ended (reported in /status), so the API can tell failure from success. */
  lastRestore: LastRestore | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly backupDir: string,
    private readonly workload: Workload,
  ) {}

  /** Puts a data directory back if a crash happened between the two renames of a restore. */
  static async recover(dataDir: string): Promise<void> {
    if (existsSync(dataDir)) return;
    const parent = dirname(dataDir);
    const old = (await readdir(parent))
      .filter((n) => n.startsWith(`${basename(dataDir)}.old-`))
      .sort()
      .pop();
    if (old) await rename(join(parent, old), dataDir);
    else await mkdir(dataDir, { recursive: true });
  }

  get inProgress(): string | null {
    return this.busy;
  }

  private metaFile(id: string): string {
    return join(this.backupDir, `${id}.json`);
  }

  archiveFile(id: string): string {
    return join(this.backupDir, `${id}.tar.gz`);
  }

  /** Temporary file, then rename: a crash never leaves a torn metadata file. */
  private async save(backup: AgentBackup): Promise<void> {
    const file = this.metaFile(backup.id);
    await writeFile(`${file}.tmp`, JSON.stringify(backup));
    await rename(`${file}.tmp`, file);
  }

  async get(id: string): Promise<AgentBackup> {
    if (!/^b_[A-Za-z0-9_-]+$/.test(id)) throw new BackupError(404, 'not_found', 'no such backup');
    try {
      return JSON.parse(await readFile(this.metaFile(id), 'utf8')) as AgentBackup;
    } catch {
      throw new BackupError(404, 'not_found', 'no such backup');
    }
  }

  async list(): Promise<AgentBackup[]> {
    await mkdir(this.backupDir, { recursive: true });
    const names = (await readdir(this.backupDir)).filter((n) => n.endsWith('.json'));
    const backups = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(this.backupDir, n), 'utf8')) as AgentBackup));
    return backups.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** Starts an archive and returns it in progress; the archive is written in the background. */
  async create(name: string | undefined): Promise<AgentBackup> {
    if (this.busy) throw new BackupError(409, 'busy', `backup ${this.busy} is in progress`);
    await mkdir(this.backupDir, { recursive: true });
    const id = `b_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
    const backup: AgentBackup = {
      id,
      name: name ?? `backup-${new Date().toISOString()}`,
      state: 'in_progress',
      size_bytes: null,
      sha256: null,
      created_at: new Date().toISOString(),
      completed_at: null,
    };
    this.busy = id;
    await this.save(backup);
    void this.write(backup);
    return backup;
  }

  private async write(backup: AgentBackup): Promise<void> {
    const file = this.archiveFile(backup.id);
    try {
      await tar(['-czf', `${file}.partial`, '-C', this.dataDir, '.']);
      await rename(`${file}.partial`, file);
      const size = (await stat(file)).size;
      await this.save({ ...backup, state: 'completed', size_bytes: size, sha256: await sha256Of(file), completed_at: new Date().toISOString() });
    } catch (err) {
      this.workload.console.push(`[agent] backup ${backup.id} failed: ${err instanceof Error ? err.message : String(err)}`);
      // A full disk may refuse these too; the agent must live on regardless.
      await rm(`${file}.partial`, { force: true }).catch(() => undefined);
      await this.save({ ...backup, state: 'failed', completed_at: new Date().toISOString() }).catch(() => undefined);
    } finally {
      this.busy = null;
    }
  }

  /**
   * Starts a restore and returns at once: the workload is stopped, the data directory replaced
   * with the archive's content, and left stopped; `/status` shows it in `backup.in_progress` meanwhile.
   */
  async restore(id: string): Promise<AgentBackup> {
    const backup = await this.get(id);
    if (this.busy) throw new BackupError(409, 'busy', `backup ${this.busy} is in progress`);
    if (backup.state !== 'completed') throw new BackupError(409, 'not_restorable', `backup ${id} is ${backup.state}`);
    this.busy = id;
    void this.replaceData(id);
    return backup;
  }

  private async replaceData(id: string): Promise<void> {
    try {
      await this.workload.stop();
      const stamp = Date.now().toString(36);
      const incoming = `${this.dataDir}.restore-${stamp}`;
      await mkdir(incoming, { recursive: true });
      await tar(['-xzf', this.archiveFile(id), '-C', incoming]);
      const old = `${this.dataDir}.old-${stamp}`;
      await rename(this.dataDir, old);
      await rename(incoming, this.dataDir);
      await rm(old, { recursive: true, force: true });
      this.workload.console.push(`[agent] restored backup ${id}`);
      this.lastRestore = { id, state: 'completed', error: null, finished_at: new Date().toISOString() };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.workload.console.push(`[agent] restore of ${id} failed: ${error}`);
      this.lastRestore = { id, state: 'failed', error, finished_at: new Date().toISOString() };
    } finally {
      // Set after the outcome, so /status never shows "idle" with the previous restore's result.
      this.busy = null;
    }
  }

  /** Streams a completed backup's archive, with its size and checksum in the headers. */
  async sendArchive(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const backup = await this.get(id);
    if (backup.state !== 'completed') throw new BackupError(409, 'not_ready', `backup ${id} is ${backup.state}`);
    const file = this.archiveFile(id);
    const s = await stat(file);
    // An archive never changes once complete: its checksum is a strong entity tag.
    await sendFileRange(
      req,
      res,
      file,
      s.size,
      { etag: `"${backup.sha256 ?? s.size.toString(36)}"`, lastModified: s.mtime },
      { 'Content-Type': 'application/gzip', 'X-Checksum-Sha256': backup.sha256 ?? '' },
    );
  }

  /**
   * Takes an uploaded archive as a new backup: streamed to a temporary file (hashed on the
   * way, cut at `maxBytes`), then listed with tar to prove it is a readable gzip tar before it
   * becomes a backup. Anything else is removed and refused.
   */
  async importArchive(name: string, body: IncomingMessage, maxBytes: number): Promise<AgentBackup> {
    await mkdir(this.backupDir, { recursive: true });
    const id = `b_${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
    const temp = `${this.archiveFile(id)}.upload`;
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        hash.update(chunk);
        if (size > maxBytes) done(new BackupError(413, 'too_large', `archives are limited to ${maxBytes} bytes`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(temp, { flags: 'wx' }));
      await tar(['-tzf', temp]).catch(() => {
        throw new BackupError(400, 'not_an_archive', 'the upload is not a readable .tar.gz archive');
      });
      await rename(temp, this.archiveFile(id));
    } catch (err) {
      await rm(temp, { force: true });
      if (err instanceof BackupError) throw err;
      throw new BackupError((err as NodeJS.ErrnoException).code === 'ENOSPC' ? 507 : 400, 'upload_failed', 'the archive upload did not complete');
    }
    const now = new Date().toISOString();
    const backup: AgentBackup = { id, name: name.slice(0, 100) || `upload-${now}`, state: 'completed', size_bytes: size, sha256: hash.digest('hex'), created_at: now, completed_at: now };
    await this.save(backup);
    return backup;
  }

  async remove(id: string): Promise<void> {
    await this.get(id);
    if (this.busy === id) throw new BackupError(409, 'busy', `backup ${id} is in progress`);
    await rm(this.archiveFile(id), { force: true });
    await rm(this.metaFile(id), { force: true });
  }
}
