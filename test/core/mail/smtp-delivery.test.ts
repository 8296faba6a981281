import test from 'ava';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startTestApp } from '../../helpers/start-test-app.ts';
import { startFakeSmtp } from '../../helpers/fake-smtp.ts';
import { createUser, json, loginAdmin } from '../../helpers/auth.ts';

test('with SMTP_URL set, reset mail goes out over SMTP and is marked sent', async (t) => {
  const smtp = await startFakeSmtp();
  t.teardown(() => smtp.close());
  const app = await startTestApp({ config: { mail: { smtp_url: smtp.url, from: 'Panel <panel@example.com>' } } });
  t.teardown(() => app.close());
  const user = await createUser(app, await loginAdmin(app));
  t.is((await app.request('/api/auth/password-reset', json({ email: user.user.email }))).status, 202);
  await app.server.auth.settleMail();
  t.is(smtp.received.length, 1);
  const mail = smtp.received[0];
  t.true(mail?.to.some((to) => to.includes(user.user.email)));
  t.regex(mail?.data ?? '', /Subject: Reset your password/);
  // The body is quoted-printable on the wire.
  const body = (mail?.data ?? '').replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  t.regex(body, /http:\/\/localhost:8080\/reset-password\?token=[A-Za-z0-9_-]{43}/);
  const [row] = await app.server.auth.outbox.list(user.user.email);
  t.truthy(row?.sentAt);
});

test('an unreachable SMTP server leaves the mail queued with its error, for a later retry', async (t) => {
  // A port that refuses connections: bind, note it, close.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const app = await startTestApp({ config: { mail: { smtp_url: `smtp://127.0.0.1:${port}`, from: 'panel@example.com' } } });
  t.teardown(() => app.close());
  const user = await createUser(app, await loginAdmin(app));
  await app.request('/api/auth/password-reset', json({ email: user.user.email }));
  await app.server.auth.settleMail();
  const row = await app.testDatabase.database
    .knex('mail_outbox')
    .where({ to_address: user.user.email })
    .first<{ sent_at: Date | null; attempts: number; last_error: string | null; claimed_until: Date | null }>();
  t.is(row?.sent_at, null);
  t.true((row?.attempts ?? 0) >= 1);
  t.regex(row?.last_error ?? '', /ECONNREFUSED|connect/i);
  t.is(row?.claimed_until, null, 'released for the next attempt');
});
