import type { Knex } from 'knex';
import { ConflictError } from '../http/errors.ts';
import { fetchPage } from '../http/pagination.ts';
import type { Role, User } from './user-schemas.ts';

export interface UserRow {
  id: string;
  username: string;
  email: string;
  password_hash: string;
  role: Role;
  disabled: boolean;
  sessions_valid_after: Date;
  created_at: Date;
  updated_at: Date;
  last_login_at: Date | null;
}

const iso = (d: Date | string): string => new Date(d).toISOString();

/** The public shape: every field named, so a new column never leaks by accident. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    disabled: row.disabled,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_login_at: row.last_login_at === null ? null : iso(row.last_login_at),
  };
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
  role: Role;
}

/** Users in PostgreSQL. Usernames and emails are unique case-insensitively (indexes on lower()). */
export class UserStore {
  constructor(private readonly db: Knex) {}

  async create(user: NewUser, trx: Knex = this.db): Promise<UserRow> {
    try {
      const [row] = await trx('users').insert({ username: user.username, email: user.email, password_hash: user.passwordHash, role: user.role }).returning<UserRow[]>('*');
      if (!row) throw new Error('INSERT ... RETURNING gave no row');
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('USER_EXISTS', 'That username or email is already taken');
      throw err;
    }
  }

  async byId(id: string, trx: Knex = this.db): Promise<UserRow | undefined> {
    return trx('users').where({ id }).first<UserRow | undefined>();
  }

  /** `login` is a username or an email. */
  async byLogin(login: string): Promise<UserRow | undefined> {
    const lowered = login.toLowerCase();
    return this.db('users').whereRaw('lower(username) = ? OR lower(email) = ?', [lowered, lowered]).first<UserRow | undefined>();
  }

  async byEmail(email: string, trx: Knex = this.db): Promise<UserRow | undefined> {
    return trx('users').whereRaw('lower(email) = ?', [email.toLowerCase()]).first<UserRow | undefined>();
  }

  async list(page: number, limit: number, role: Role | undefined): Promise<{ rows: UserRow[]; total: number }> {
    const base = this.db('users').modify((q) => {
      if (role) void q.where({ role });
    });
    return fetchPage<UserRow>(base, page, limit, (q) => q.orderBy('created_at', 'asc').orderBy('id').select('*'));
  }

  async update(
    id: string,
    patch: Partial<Pick<UserRow, 'email' | 'role' | 'disabled' | 'password_hash' | 'last_login_at'>> & { sessions_valid_after?: Knex.Raw },
    trx: Knex = this.db,
  ): Promise<UserRow | undefined> {
    try {
      const [row] = await trx('users')
        .where({ id })
        .update({ ...patch, updated_at: trx.fn.now() })
        .returning<UserRow[]>('*');
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('USER_EXISTS', 'That email is already taken');
      throw err;
    }
  }

  /** Locks every enabled admin row, so "is this the last admin?" cannot race with another change. */
  async lockActiveAdmins(trx: Knex): Promise<string[]> {
    const rows = await trx('users').where({ role: 'admin', disabled: false }).forUpdate().select<Array<{ id: string }>>('id');
    return rows.map((r) => r.id);
  }
}
