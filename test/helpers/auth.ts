import type { ApiEndpoint } from './start-test-app.ts';
import { testAdminPassword } from './start-test-app.ts';

export interface Session {
  access_token: string;
  refresh_token: string;
  refresh_expires_at: string;
  expires_in: number;
  user: { id: string; username: string; email: string; role: string };
}

export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

export const bearer = (token: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}` },
});

export async function login(app: ApiEndpoint, loginName: string, password: string, ip?: string): Promise<Session> {
  const res = await app.request('/api/auth/login', json({ login: loginName, password }, ip ? { 'X-Forwarded-For': ip } : {}));
  if (res.status !== 200) throw new Error(`login as ${loginName} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Session;
}

export const loginAdmin = (app: ApiEndpoint): Promise<Session> => login(app, 'admin', testAdminPassword);

let counter = 0;

/** Creates a user through the admin API and signs them in. */
export async function createUser(app: ApiEndpoint, admin: Session, overrides: { username?: string; password?: string; role?: 'admin' | 'user' } = {}): Promise<Session & { password: string }> {
  counter += 1;
  const username = overrides.username ?? `user${process.pid}x${counter}`;
  const password = overrides.password ?? `password-${counter}-long`;
  const res = await app.request('/api/admin/users', bearer(admin.access_token, json({ username, email: `${username}@example.com`, password, role: overrides.role ?? 'user' })));
  if (res.status !== 201) throw new Error(`creating ${username} answered ${res.status}: ${await res.text()}`);
  return { ...(await login(app, username, password)), password };
}
