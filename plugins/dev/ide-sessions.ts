import type { Knex } from 'knex';
import type { Duplex } from 'node:stream';
import { AppError, hashToken, newOpaqueToken, type Instance, type Instances, type Logger, type Principal } from '../../src/plugin-api/index.ts';
import { codeserverOf } from './dev-container.ts';
import type { IdeMode } from './ide-urls.ts';

/** No valid IDE session: the page tells the user to open the IDE from the portal. */
export class IdeAccessError extends AppError {
  constructor(code: string, message: string, status = 401) {
    super(status, code, status === 401 ? 'IDE session required' : 'IDE unavailable', message);
  }
}

const openFromPortal = 'Open the IDE again from the portal (each link works once)';

interface SessionRow {
  id_hash: string;
  user_id: string;
  instance_id: string;
  vmid: number;
  mode: IdeMode;
  role: 'admin' | 'user';
  token_id: string;
  family_id: string;
  expires_at: Date;
}

/** Which IDE a request is at: hosted ones are known by vmid, path-mode ones by container id. */
export interface IdeEntrance {
  mode: IdeMode;
  vmid?: number;
  instanceId?: string;
}

/** What a valid session lets through: which container, and where its IDE listens. */
export interface IdeGrant {
  idHash: string;
  mode: IdeMode;
  userId: string;
  instanceId: string;
  vmid: number;
  target: string;
}

export interface IdeSessionSettings {
  tokenTtlS: number;
  sessionTtlS: number;
  /** A validated session is trusted this long without asking the database again (events drop it sooner). */
  cacheMs: number;
}

/**
 * IDE links and sessions. A link carries a random single-use token (stored hashed) bound to
 * the user, the container, the host and the mode; spending it creates a session whose id
 * (also stored hashed) becomes the cookie. Every request through the proxy checks the
 * session: live, from a sign-in that still holds, its user still the owner (or an admin), the
 * container active and its IDE running.
 */
export class IdeSessions {
  private readonly cache = new Map<string, { grant: IdeGrant; until: number }>();
  private readonly sockets = new Map<string, Set<Duplex>>();

  constructor(
    private readonly db: Knex,
    private readonly instances: Instances,
    private readonly stillValid: (principal: Principal) => Promise<boolean>,
    private readonly settings: IdeSessionSettings,
    private readonly log: Logger,
  ) {}

  async issueToken(principal: Principal, instanceId: string, vmid: number, host: string, mode: IdeMode): Promise<{ token: string; expiresAt: Date }> {
    const token = newOpaqueToken();
    const expiresAt = new Date(Date.now() + this.settings.tokenTtlS * 1000);
    await this.db('dev_ide_tokens').insert({
      token_hash: hashToken(token),
      user_id: principal.userId,
      instance_id: instanceId,
      vmid,
      host: host.toLowerCase(),
      mode,
      role: principal.role,
      token_id: principal.tokenId,
      family_id: principal.familyId,
      expires_at: expiresAt,
    });
    return { token, expiresAt };
  }

  /** Spends a token for exactly this container, host and mode, and opens a session; the raw session id goes in the cookie. */
  async redeem(token: string, where: IdeEntrance & { host: string }): Promise<{ sessionId: string; expiresAt: Date; grant: IdeGrant; instanceId: string }> {
    const [spent] = await this.db('dev_ide_tokens')
      .where({ token_hash: hashToken(token), host: where.host.toLowerCase(), mode: where.mode })
      .where(where.vmid !== undefined ? { vmid: where.vmid } : { instance_id: where.instanceId ?? '' })
      .whereNull('used_at')
      .where('expires_at', '>', this.db.fn.now())
      .update({ used_at: this.db.fn.now() })
      .returning<Array<Omit<SessionRow, 'id_hash' | 'expires_at'>>>(['user_id', 'instance_id', 'vmid', 'mode', 'role', 'token_id', 'family_id']);
    if (!spent) throw new IdeAccessError('IDE_TOKEN_INVALID', `This IDE link is invalid, used or expired. ${openFromPortal}`);
    const sessionId = newOpaqueToken();
    const expiresAt = new Date(Date.now() + this.settings.sessionTtlS * 1000);
    const row: SessionRow = { ...spent, id_hash: hashToken(sessionId), expires_at: expiresAt };
    const grant = await this.check(row);
    await this.db('dev_ide_sessions').insert(row);
    return { sessionId, expiresAt, grant, instanceId: spent.instance_id };
  }

  /** The grant of a session cookie for this container and mode, or IdeAccessError. */
  async authorize(sessionId: string | undefined, expect: IdeEntrance): Promise<IdeGrant> {
    if (!sessionId) throw new IdeAccessError('IDE_SESSION_REQUIRED', `You are not signed in to this IDE. ${openFromPortal}`);
    const idHash = hashToken(sessionId);
    const cached = this.cache.get(idHash);
    let grant: IdeGrant;
    if (cached && cached.until > Date.now()) {
      grant = cached.grant;
    } else {
      const row = await this.db<SessionRow>('dev_ide_sessions').where({ id_hash: idHash }).whereNull('revoked_at').where('expires_at', '>', this.db.fn.now()).first();
      if (!row) throw new IdeAccessError('IDE_SESSION_INVALID', `Your IDE session has ended. ${openFromPortal}`);
      grant = await this.check(row);
      if (this.cache.size > 10_000) this.cache.clear();
      // Never past the session's own end; revocations (sign-out, IDE stopped, container gone or not active) drop entries at once through events.
      this.cache.set(idHash, { grant, until: Math.min(Date.now() + this.settings.cacheMs, new Date(row.expires_at).getTime()) });
    }
    // A cookie for dev-1 never opens dev-2, and a path-mode cookie never a hosted IDE.
    if (grant.mode !== expect.mode || (expect.vmid !== undefined && expect.vmid !== grant.vmid) || (expect.instanceId !== undefined && expect.instanceId !== grant.instanceId)) {
      throw new IdeAccessError('IDE_SESSION_INVALID', `This session is for another IDE. ${openFromPortal}`);
    }
    return grant;
  }

  /** Everything but the session row itself: the sign-in, the user's right to the container, its state. */
  private async check(row: Omit<SessionRow, 'expires_at'>): Promise<IdeGrant> {
    const principal: Principal = { userId: row.user_id, role: row.role, tokenId: row.token_id, familyId: row.family_id, expiresAt: new Date() };
    if (!(await this.stillValid(principal))) throw new IdeAccessError('IDE_SESSION_INVALID', `You signed out, or your account changed. Sign in and ${openFromPortal.toLowerCase()}`);
    let instance: Instance;
    try {
      instance = await this.instances.get(row.instance_id, row.role === 'admin' ? null : row.user_id, 'dev container');
    } catch (err) {
      // Not found (deleted, or no longer this user's) ends the session; a database error is not an answer.
      if (!(err instanceof AppError && err.status === 404)) throw err;
      throw new IdeAccessError('IDE_SESSION_INVALID', `This dev container is no longer yours, or was deleted. ${openFromPortal}`);
    }
    if (instance.state.lifecycle !== 'active') throw new IdeAccessError('IDE_NOT_ACTIVE', `This dev container is ${instance.state.lifecycle}; try again from the portal once it is active`, 409);
    const ide = codeserverOf(instance);
    if (ide.state !== 'running' || ide.port === null) throw new IdeAccessError('IDE_NOT_RUNNING', 'The IDE is not running; start it from the portal', 409);
    const { baseUrl } = await this.instances.target(row.instance_id);
    return { idHash: row.id_hash, mode: row.mode, userId: row.user_id, instanceId: row.instance_id, vmid: row.vmid, target: `http://${new URL(baseUrl).hostname}:${ide.port}` };
  }

  /** Keeps a proxied WebSocket so a revocation can close it. */
  track(idHash: string, socket: Duplex): void {
    let set = this.sockets.get(idHash);
    if (!set) this.sockets.set(idHash, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0) this.sockets.delete(idHash);
    });
  }

  get openSockets(): number {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /** Ends sessions in the database (when `persist`), forgets them here, and closes their sockets. */
  async revoke(where: { instanceId?: string; userId?: string; familyIds?: readonly string[] }, persist: boolean): Promise<void> {
    if (persist) {
      await this.db('dev_ide_sessions')
        .whereNull('revoked_at')
        .modify((q) => {
          if (where.instanceId) void q.where({ instance_id: where.instanceId });
          if (where.userId) void q.where({ user_id: where.userId });
          if (where.familyIds) void q.whereIn('family_id', where.familyIds);
        })
        .update({ revoked_at: this.db.fn.now() });
    }
    for (const [idHash, entry] of this.cache) {
      const g = entry.grant;
      if ((where.instanceId && g.instanceId === where.instanceId) || (where.userId && g.userId === where.userId)) this.cache.delete(idHash);
    }
    if (where.familyIds) this.cache.clear(); // grants do not carry families; a logout is rare enough to start afresh
    await this.recheckSockets();
  }

  /** Checks every session with open sockets again; sockets of sessions no longer valid are closed. */
  async recheckSockets(): Promise<number> {
    let closed = 0;
    for (const [idHash, set] of [...this.sockets]) {
      this.cache.delete(idHash);
      const row = await this.db<SessionRow>('dev_ide_sessions').where({ id_hash: idHash }).whereNull('revoked_at').where('expires_at', '>', this.db.fn.now()).first();
      // Only an answer of "no longer valid" closes sockets; a check that could not be made (the
      // database away for a moment) keeps them, and the next recheck asks again.
      const valid = row
        ? await this.check(row).then(
            () => true,
            (err: unknown) => !(err instanceof IdeAccessError),
          )
        : false;
      if (valid) continue;
      for (const socket of set) socket.destroy();
      closed += set.size;
    }
    if (closed > 0) this.log.info({ closed }, 'closed IDE WebSockets of ended sessions');
    return closed;
  }

  async prune(): Promise<void> {
    await this.db('dev_ide_tokens').where('expires_at', '<', this.db.raw(`now() - interval '1 hour'`)).delete();
    await this.db('dev_ide_sessions').where('expires_at', '<', this.db.raw(`now() - interval '1 day'`)).delete();
  }
}
