import test from 'ava';
import { spawnSync } from 'node:child_process';
import { shippedPlugins } from '../../../plugins/index.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import { eventually, fastAgents, registerAgent } from '../../helpers/agent-core.ts';
import { loginAdmin } from '../../helpers/auth.ts';
import { runJob } from '../../helpers/run-job.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

const token = 'metrics-token-for-promtool-0123';
let app: TestApp;
let fakes: FakeAgents;

test.before(async () => {
  fakes = await startFakeAgents();
  app = await startTestApp({ plugins: shippedPlugins, config: { ...fastAgents, metrics: { token } } });
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
});

/** `promtool check metrics` on an exposition: what it printed (nothing when clean) and its exit status. */
function promtool(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is missing (bash scripts/test-prerequisites.sh installs it): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/** The families declared with `# TYPE` that have no sample line in the exposition. */
function familiesWithoutSamples(text: string): string[] {
  const families = [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] as string);
  const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return families.filter((family) => !samples.some((line) => new RegExp(`^${family}(_bucket|_sum|_count|_total)?[{ ]`).test(line)));
}

// Traffic that gives every family a sample, so promtool sees labels and values, not only names:
// requests (HTTP), a job run (jobs), an instance on an agent polled twice (polls, poll time and
// the age of the state a poll replaced).
test.serial('/metrics, with every family sampled, passes promtool check metrics without a complaint', async (t) => {
  const admin = await loginAdmin(app);
  await registerAgent(app, admin, fakes);
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'metrics-lint' });
  await eventually(async () => (await app.server.instances.get(created.id, null)).state.lifecycle === 'active', 8_000, 'instance to become active');
  await new Promise((r) => setTimeout(r, 1_100));
  await app.server.poller.pollNow(created.id);
  await app.server.poller.pollNow(created.id);
  await runJob(app, 'core.events-prune');
  await app.request('/api/nothing/here');

  const res = await app.request('/metrics', { headers: { Authorization: `Bearer ${token}` } });
  t.is(res.status, 200);
  const text = await res.text();
  // nodejs_active_requests has a sample per kind of libuv request in flight: none at a quiet moment.
  t.deepEqual(
    familiesWithoutSamples(text).filter((family) => family !== 'nodejs_active_requests'),
    [],
  );
  for (const family of ['panel_http_requests_total', 'panel_job_runs_total', 'panel_agent_polls_total', 'panel_agent_state_age_seconds', 'panel_streamspace_vnc_streams', 'process_cpu_seconds_total'])
    t.true(text.includes(`# TYPE ${family} `), family);
  t.deepEqual(promtool(text), { status: 0, output: '' });
});

test('promtool complains about what it should (a counter without _total, a gauge with it)', (t) => {
  const bad = '# HELP jobs_done Jobs done\n# TYPE jobs_done counter\njobs_done 1\n# HELP open_total Open things\n# TYPE open_total gauge\nopen_total 2\n';
  const { output } = promtool(bad);
  t.regex(output, /jobs_done counter metrics should have "_total" suffix/);
  t.regex(output, /open_total non-counter metrics should not have "_total" suffix/);
});
