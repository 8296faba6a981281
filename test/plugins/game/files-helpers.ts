import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { createServer, deleteAndWait, gameTestConfig, killLocalAgents, startGameApp, waitForServer } from './game-helpers.ts';
import { downloadFrom, uploadTo } from '../../helpers/file-transfer.ts';

/** The file-manager tests' fixture: one app with a real local agent running one active server; `stranger` must never reach it. */
export interface FilesServer {
  app: TestApp;
  dataDir: string;
  owner: Session;
  stranger: Session;
  server: GameServer;
}

/** Starts the fixture; `files` is the `files` config section (upload limit, stall timeout). A failed start cleans up what it began. */
export async function startFilesServer(prefix: string, files: Record<string, unknown> = {}): Promise<FilesServer> {
  const partial: Partial<FilesServer> = { dataDir: mkdtempSync(join(tmpdir(), prefix)) };
  try {
    partial.app = await startGameApp(gameTestConfig('local', { database: { data_dir: partial.dataDir }, files }));
    const admin = await loginAdmin(partial.app);
    partial.owner = await createUser(partial.app, admin);
    partial.stranger = await createUser(partial.app, admin);
    partial.server = await createServer(partial.app, partial.owner, 'Files');
    await waitForServer(partial.app, partial.owner, partial.server.id, (s) => s.state.lifecycle === 'active', 'active');
    return partial as FilesServer;
  } catch (err) {
    await stopFilesServer(partial);
    throw err;
  }
}

/** Deletes the server (so no agent outlives the file), closes the app and removes the data directory. */
export async function stopFilesServer(f: Partial<FilesServer> | undefined): Promise<void> {
  if (f?.app && f.owner && f.server) await deleteAndWait(f.app, f.owner, f.server.id).catch(() => undefined);
  await f?.app?.close();
  if (!f?.dataDir) return;
  killLocalAgents(f.dataDir);
  rmSync(f.dataDir, { recursive: true, force: true });
}

/** The agent's data directory and the file routes of the fixture's server; `current` is read on each call, after `test.before` has set it. */
export function fileRoutes(current: () => FilesServer) {
  const url = (path: string) => new URL(`${current().app.url}/api/game/servers/${current().server.id}${path}`);
  const content = (path: string) => url(`/files/content?path=${encodeURIComponent(path)}`);
  return {
    agentData: () => join(current().dataDir, 'instances', current().server.id, 'data'),
    url,
    upload: (session: Session, path: string, chunks: Iterable<Buffer>, length?: number) => uploadTo(content(path), session.access_token, chunks, length),
    download: (session: Session, path: string) => downloadFrom(content(path), session.access_token),
  };
}
