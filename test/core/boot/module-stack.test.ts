import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { ModuleStack } from '../../../src/core/boot/module-stack.ts';
import type { CoreModule } from '../../../src/core/boot/core-module.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import { captureLogs } from '../../helpers/start-test-app.ts';

function recording(name: string, trail: string[], overrides: Partial<CoreModule> = {}): CoreModule {
  return {
    name,
    start: async () => void trail.push(`start ${name}`),
    drain: async () => {
      trail.push(`drain ${name}`);
      await sleep(50);
      trail.push(`drained ${name}`);
    },
    stop: async () => void trail.push(`stop ${name}`),
    ...overrides,
  };
}

test('modules start in order, drain together, then stop in reverse order', async (t) => {
  const trail: string[] = [];
  const stack = new ModuleStack(createLogger('silent'));
  for (const name of ['database', 'events', 'http']) stack.add(recording(name, trail));
  await stack.start();
  await stack.shutdown(1_000);
  t.deepEqual(trail.slice(0, 3), ['start database', 'start events', 'start http']);
  // Every drain began before any finished: they run at once.
  t.deepEqual(trail.slice(3, 6).sort(), ['drain database', 'drain events', 'drain http']);
  t.deepEqual(trail.slice(9), ['stop http', 'stop events', 'stop database']);
});

test('a module whose start fails: shutdown still stops every module built, and one failing stop does not stop the rest', async (t) => {
  const trail: string[] = [];
  const { logs, stream } = captureLogs();
  const stack = new ModuleStack(createLogger('error', stream));
  stack.add(recording('database', trail));
  stack.add(
    recording('auth', trail, {
      stop: async () => {
        throw new Error('pool already closed');
      },
    }),
  );
  stack.add(
    recording('http', trail, {
      start: async () => {
        throw new Error('EADDRINUSE');
      },
    }),
  );
  stack.add(recording('scheduler', trail));
  await t.throwsAsync(stack.start(), { message: 'EADDRINUSE' });
  await stack.shutdown(1_000);
  t.false(trail.includes('start scheduler'));
  t.deepEqual(
    trail.filter((s) => s.startsWith('stop')),
    ['stop scheduler', 'stop http', 'stop database'],
  );
  t.true(logs.some((l) => l.module === 'auth' && l.phase === 'stop'));
});

test('a drain that hangs is cut at the grace deadline, and shutdown is idempotent', async (t) => {
  const trail: string[] = [];
  const stack = new ModuleStack(createLogger('silent'));
  stack.add(recording('stuck', trail, { drain: () => new Promise<void>(() => undefined) }));
  const started = Date.now();
  await Promise.all([stack.shutdown(200), stack.shutdown(200)]);
  t.true(Date.now() - started < 2_000);
  t.deepEqual(trail, ['stop stuck']);
});
