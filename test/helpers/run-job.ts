import type { TestApp } from './start-test-app.ts';
import { eventually } from './agent-core.ts';

/** Runs a job once now; when its scheduled run is in flight, waits for that to end and runs it again. */
export async function runJob(app: TestApp, id: string): Promise<void> {
  await eventually(async () => (await app.server.scheduler.fire(id, new Date())) === 'ok', 15_000, `a run of ${id}`);
}
