import type { ExecutionContext } from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { startV1App, v1User, type call, type V1Session } from './ss-helpers.ts';

/** What admin-routes*.test.ts share: the set-up, the answer's shape, the pagination block and the error envelope check. */
export type Answer = Awaited<ReturnType<typeof call>>;
export interface Page {
  page: number;
  limit: number;
  total: number;
  total_pages: number;
}

export function assertError(t: ExecutionContext, res: Answer, status: number, code: string): void {
  t.is(res.status, status, JSON.stringify(res.body));
  t.is(res.body?.code, code, JSON.stringify(res.body));
  for (const key of ['error', 'message', 'timestamp', 'request_id']) t.is(typeof res.body?.[key], 'string', `envelope field '${key}'`);
}

let n = 0;
/** A name no other test of this process has used (users, templates and agent ids). */
export const unique = (prefix: string): string => `${prefix}${process.pid}x${(n += 1)}`;

/** The app, its admin and a plain user (the one who is refused admin routes); the app is closed again if the user cannot be made. */
export async function startWithUser(): Promise<{ app: TestApp; admin: V1Session; user: V1Session }> {
  const { app, admin } = await startV1App();
  try {
    return { app, admin, user: await v1User(app, admin) };
  } catch (err) {
    await app.close();
    throw err;
  }
}
