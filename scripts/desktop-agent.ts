import { resolve } from 'node:path';
import { agentKey, commonAgentOptions, parseAgentArgs, runUntilSignal, urlProblem, usageError } from './lib/agent-cli.ts';
import { DesktopAgent } from './lib/desktop-agent.ts';
import { findProgram } from './lib/desktop-processes.ts';
import { runScript } from './lib/run-script.ts';

const help = `Usage: npm run desktop-agent -- --url URL --agent-id ID --data-dir DIR [options]

A StreamSpace agent for real desktops on this machine. Each session gets a TigerVNC Xvnc on
127.0.0.1 (geometry and depth from its template) and the template's "local" command in that
display (e.g. xterm), with HOME=DIR/sessions/<session_id>/home. Viewers reach it through the
control plane's /vnc-viewer/{session_id}. Registers as platform "local".

Needs Debian's tigervnc-standalone-server (Xvnc) and the packages the templates name
(xterm-desktop: xterm; twm-desktop: twm and xterm):
  apt-get install -y tigervnc-standalone-server xterm twm

Options:
  --url <url>              the control plane's base URL, e.g. http://127.0.0.1:8080
  --agent-id <id>          the agent's id (an admin issues its key: POST /api/v1/admin/agent-keys)
  --data-dir <dir>         where sessions keep their records, logs and homes (created if missing)
  --key-file <file>        read the agent key from this file (or set STREAMSPACE_AGENT_KEY)
  --region <name>          region to register in (default none)
  --max-sessions <n>       desktops running at once (default 4); more starts fail with
                           AGENT_CAPACITY_EXCEEDED
  --end-sessions-on-exit   stop every desktop when the agent stops (default: they keep running
                           and the next agent started on the same --data-dir adopts them)
  --no-reconnect           exit instead of reconnecting when the control plane goes away
  -h, --help               show this help

Environment:
  STREAMSPACE_AGENT_KEY    the agent key, when --key-file is not given (never passed on to desktops)

Prints one JSON line per notable event, e.g. {"msg":"registered","agent_id":"...","heartbeat_interval":"10s"}.
Stops cleanly on SIGINT or SIGTERM. Exit codes: 0 stopped, 1 could not connect or register,
2 bad arguments or Xvnc missing.

Example:
  STREAMSPACE_AGENT_KEY=... npm run desktop-agent -- --url http://127.0.0.1:8080 --agent-id desktop-01 --data-dir ./desktops
`;

const options = {
  ...commonAgentOptions,
  'data-dir': { type: 'string' },
  'max-sessions': { type: 'string', default: '4' },
  'end-sessions-on-exit': { type: 'boolean', default: false },
} as const;

async function main(args: string[]): Promise<number> {
  const values = parseAgentArgs(args, options, help);
  if (typeof values === 'number') return values;
  const key = agentKey(values);
  const maxSessions = Number(values['max-sessions']);
  const problems = [
    urlProblem(values.url),
    values['agent-id'] ? null : '--agent-id is required',
    values['data-dir'] ? null : '--data-dir is required',
    key ? null : 'an agent key is required (--key-file or STREAMSPACE_AGENT_KEY)',
    Number.isInteger(maxSessions) && maxSessions >= 1 ? null : `--max-sessions must be a whole number ≥ 1, got "${values['max-sessions']}"`,
    findProgram('Xvnc', process.env.PATH ?? '') ? null : 'Xvnc is not installed: apt-get install -y tigervnc-standalone-server',
  ].filter((p): p is string => p !== null);
  if (problems.length > 0) return usageError(problems.join('\n'));

  const agent = new DesktopAgent({
    url: values.url as string,
    agentId: values['agent-id'] as string,
    key: key as string,
    region: values.region,
    maxSessions,
    dataDir: resolve(values['data-dir'] as string),
    autoReconnect: !values['no-reconnect'],
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await agent.start();
  return runUntilSignal(agent, () => agent.shutdown(values['end-sessions-on-exit']), values['no-reconnect']);
}

runScript('desktop-agent', main);
