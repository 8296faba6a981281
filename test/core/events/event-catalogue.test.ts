import test from 'ava';
import { z } from 'zod';
import { defineEvent, definePlugin, type PanelEvent } from '../../../src/plugin-api/index.ts';
import { PluginBootError } from '../../../src/core/plugin-host/plugin-host.ts';
import { EventContractError } from '../../../src/core/events/event-catalogue.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';

const noteSaved = defineEvent({ id: 'notes.saved', description: 'A note was saved: `{note_id, words}`.', audience: 'owner', schema: z.object({ note_id: z.string(), words: z.number().int() }) });
const notesSwept = defineEvent({ id: 'notes.swept', description: 'Old notes were swept.', audience: 'admins', schema: z.object({ removed: z.number().int() }) });

/** A plugin that declares two events, publishes through its context and keeps what its handler saw. */
function notesPlugin(seen: Array<PanelEvent<{ note_id: string; words: number }>>) {
  const handles: { publish?: (userId: string | null, data: unknown, which?: 'saved' | 'swept') => Promise<unknown> } = {};
  const plugin = definePlugin({
    id: 'notes',
    events: [noteSaved, notesSwept],
    setup: (ctx) => {
      const off = ctx.events.on(noteSaved, (event) => seen.push(event));
      handles.publish = (userId, data, which = 'saved') => (which === 'saved' ? ctx.events.publish(noteSaved, userId, data as never) : ctx.events.publish(notesSwept, userId, data as never));
      return { dispose: async () => off() };
    },
  });
  return { plugin, handles };
}

let app: TestApp;
const seen: Array<PanelEvent<{ note_id: string; words: number }>> = [];
const notes = notesPlugin(seen);

test.before(async () => {
  app = await startTestApp({ plugins: [notes.plugin] });
});
test.after.always(() => app?.close());

test('a plugin publishes its declared event and its handler receives typed data', async (t) => {
  const admin = await loginAdmin(app);
  const user = await createUser(app, admin);
  await notes.handles.publish?.(user.user.id, { note_id: 'n1', words: 3 });
  const event = await eventually(async () => seen.find((e) => e.data.note_id === 'n1'), 5_000, 'the handler');
  t.is(event.type, 'notes.saved');
  t.is(event.user_id, user.user.id);
  t.is(event.data.words, 3);
});

test('publishing data that does not match the schema, or with the wrong audience, throws and stores nothing', async (t) => {
  const admin = await loginAdmin(app);
  const user = await createUser(app, admin);
  // Only this test's events count: the other tests in this file run concurrently and publish notes.saved for their own user.
  const notesEvents = () =>
    app.server.database
      .knex('events')
      .where({ type: 'notes.saved', user_id: user.user.id })
      .orWhere({ type: 'notes.saved', user_id: null })
      .orWhere({ type: 'notes.swept' })
      .count<Array<{ n: string | number }>>('* as n');
  const before = await notesEvents();
  await t.throwsAsync(notes.handles.publish?.(user.user.id, { note_id: 'n2', words: 'three' }) as Promise<unknown>, { instanceOf: EventContractError, message: /notes\.saved.*words/ });
  await t.throwsAsync(notes.handles.publish?.(null, { note_id: 'n2', words: 1 }) as Promise<unknown>, { instanceOf: EventContractError, message: /needs a user id/ });
  await t.throwsAsync(notes.handles.publish?.(user.user.id, { removed: 1 }, 'swept') as Promise<unknown>, { instanceOf: EventContractError, message: /takes no user id/ });
  const after = await notesEvents();
  t.is(Number(after[0]?.n), Number(before[0]?.n));
});

test('an event that is not in the catalogue cannot be published', async (t) => {
  const stray = defineEvent({ id: 'notes.stray', description: 'never declared', audience: 'admins', schema: z.object({}) });
  await t.throwsAsync(app.server.events.publish(stray, null, {}), { instanceOf: EventContractError, message: /not in the catalogue/ });
});

test("the OpenAPI document and the SSE route list the catalogue: the core's events and the plugin's", async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as { 'x-events': Array<{ id: string; owner: string; audience: string }>; paths: Record<string, { get?: { description?: string } }> };
  const ids = doc['x-events'].map((e) => e.id);
  for (const id of ['instance.state', 'instance.deleted', 'user.sessions_ended', 'billing.updated', 'backup.updated', 'notes.saved', 'notes.swept']) t.true(ids.includes(id), id);
  t.like(
    doc['x-events'].find((e) => e.id === 'notes.swept'),
    { owner: 'notes', audience: 'admins' },
  );
  t.regex(doc.paths['/api/events']?.get?.description ?? '', /`notes\.saved` \(owner\)/);
});

test("a plugin event outside the plugin's prefix, or one defined twice, stops the boot", async (t) => {
  const foreign = definePlugin({ id: 'rogue', events: [defineEvent({ id: 'instance.hijacked', description: 'x', audience: 'admins', schema: z.object({}) })], setup: () => ({}) });
  const twice = definePlugin({
    id: 'twice',
    events: [
      defineEvent({ id: 'twice.done', description: 'x', audience: 'admins', schema: z.object({}) }),
      defineEvent({ id: 'twice.done', description: 'y', audience: 'admins', schema: z.object({}) }),
    ],
    setup: () => ({}),
  });
  const err = await t.throwsAsync(startTestApp({ plugins: [foreign, twice] }), { instanceOf: PluginBootError });
  t.regex(err?.message ?? '', /plugin "rogue": event "instance\.hijacked" of plugin "rogue" must start with "rogue\."/);
  t.regex(err?.message ?? '', /plugin "twice": event "twice\.done" of twice is already defined by twice/);
});
