import test from 'ava';
import type { AgentTarget } from '../../src/core/agent/agent-client.ts';
import { testAgentClient } from '../helpers/agent-client.ts';
import { eventually } from '../helpers/agent-core.ts';
import { getAgentReady, isAgentReadyResult } from '../../src/core/agent/readiness.ts';
import { AppError } from '../../src/core/http/errors.ts';

async function agentStatus(fn: () => Promise<unknown>): Promise<number | 'ok'> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    if (err instanceof AppError && err.code === 'AGENT_ERROR') return err.status;
    throw err;
  }
}

/**
 * The agent contract (AGENT-CONTRACT.md) as tests, run through the API's own agentClient so
 * every answer is also validated against the shared schemas. Both the reference agent and
 * the fake agent's normal mode must pass it.
 */
export function agentContractSuite(name: string, start: () => Promise<{ target: AgentTarget; stop(): Promise<void> }>): void {
  let agent: { target: AgentTarget; stop(): Promise<void> };
  const client = testAgentClient();

  test.before(async () => {
    agent = await start();
    await eventually(async () => isAgentReadyResult(await getAgentReady(client, agent.target)), 20_000);
  });
  test.after.always(async () => {
    client.close();
    await agent?.stop();
  });

  test.serial(`${name}: a wrong token is 401 {error, code: "unauthorized"}`, async (t) => {
    const err = await t.throwsAsync(client.call({ ...agent.target, token: 'wrong-token-wrong-token' }, 'health'), { instanceOf: AppError });
    t.is(err?.status, 401);
    t.like(err?.details, { agent_body: { code: 'unauthorized' } });
  });

  test.serial(`${name}: /health, /ready and /status answer the contract; X-Request-Id is echoed`, async (t) => {
    t.is((await client.call(agent.target, 'health')).status, 'ok');
    t.true(isAgentReadyResult(await getAgentReady(client, agent.target)));
    const status = await client.call(agent.target, 'status');
    t.true(['stopped', 'running'].includes(status.state));
    const res = await fetch(`${agent.target.baseUrl}/health`, { headers: { Authorization: `Bearer ${agent.target.token}`, 'X-Request-Id': 'contract-rid-1' } });
    t.is(res.headers.get('x-request-id'), 'contract-rid-1');
    if (status.state === 'running') await client.call(agent.target, 'stop');
    await eventually(async () => (await client.call(agent.target, 'status')).state === 'stopped');
  });

  test.serial(`${name}: while stopped, stop and console commands are refused with 409; a bad command body is 400`, async (t) => {
    t.is(await agentStatus(() => client.call(agent.target, 'stop')), 409);
    t.is(await agentStatus(() => client.call(agent.target, 'consoleCommand', { body: { command: 'say hi' } })), 409);
    t.is(await agentStatus(() => client.call(agent.target, 'consoleCommand', { body: { command: '' } })), 400);
  });

  test.serial(`${name}: start runs the workload; a second start is 409; console commands reach it and show in the logs`, async (t) => {
    t.deepEqual(await client.call(agent.target, 'start'), { state: 'starting' });
    await eventually(async () => (await client.call(agent.target, 'status')).state === 'running');
    t.is(await agentStatus(() => client.call(agent.target, 'start')), 409);
    t.deepEqual(await client.call(agent.target, 'consoleCommand', { body: { command: 'say contract-hello' } }), {});
    const logs = await eventually(async () => {
      const answer = await client.call(agent.target, 'consoleLogs', { query: { lines: 50 } });
      return answer.lines.some((l) => l.includes('contract-hello')) ? answer : undefined;
    });
    t.true(logs.lines.length <= 50);
  });

  test.serial(`${name}: backups are created, listed newest first with size and sha256, restored (leaving the workload stopped) and deleted`, async (t) => {
    const created = await client.call(agent.target, 'createBackup', { body: { name: 'contract' }, kind: 'backup' });
    t.is(created.backup.name, 'contract');
    t.true(['in_progress', 'completed'].includes(created.backup.state));
    const done = await eventually(async () => (await client.call(agent.target, 'listBackups')).backups.find((b) => b.id === created.backup.id && b.state === 'completed'));
    t.regex(done.sha256 ?? '', /^[0-9a-f]{64}$/);
    t.true((done.size_bytes ?? 0) > 0);
    t.is(await agentStatus(() => client.call(agent.target, 'restoreBackup', { query: { id: 'b_does_not_exist' } })), 404);
    const restoring = await client.call(agent.target, 'restoreBackup', { query: { id: created.backup.id }, kind: 'backup' });
    t.is(restoring.backup.id, created.backup.id);
    await eventually(async () => {
      const s = await client.call(agent.target, 'status');
      return s.state === 'stopped' && (s.backup?.in_progress ?? null) === null;
    });
    t.is(await agentStatus(() => client.call(agent.target, 'deleteBackup', { params: { id: 'b_does_not_exist' } })), 404);
    t.is(await client.call(agent.target, 'deleteBackup', { params: { id: created.backup.id } }), null);
    t.false((await client.call(agent.target, 'listBackups')).backups.some((b) => b.id === created.backup.id));
  });

  test.serial(`${name}: restart and stop move the workload through its states`, async (t) => {
    t.deepEqual(await client.call(agent.target, 'restart'), { state: 'starting' });
    await eventually(async () => (await client.call(agent.target, 'status')).state === 'running');
    t.deepEqual(await client.call(agent.target, 'stop'), { state: 'stopping' });
    await eventually(async () => (await client.call(agent.target, 'status')).state === 'stopped');
    t.pass();
  });
}
