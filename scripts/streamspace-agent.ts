import { SimAgent } from './lib/streamspace-sim-agent.ts';
import { agentKey, commonAgentOptions, parseAgentArgs, runUntilSignal, urlProblem, usageError } from './lib/agent-cli.ts';
import { runScript } from './lib/run-script.ts';

const help = `Usage: npm run streamspace-agent -- --url URL --agent-id ID [options]

A simulated StreamSpace agent: connects to the control plane's /agent/ws with an agent key,
registers, heartbeats and answers session commands. Sessions are fake VNC servers on
127.0.0.1 (the start of RFB, then echo or a test pattern) that viewers can reach through the
control plane. For trying a control plane without Kubernetes or Docker; nothing is installed.

Options:
  --url <url>              the control plane's base URL, e.g. http://127.0.0.1:8080
  --agent-id <id>          the agent's id (an admin issues its key: POST /api/v1/admin/agent-keys)
  --key <key>              the agent key (prefer STREAMSPACE_AGENT_KEY or --key-file: argv is
                           visible to other users)
  --key-file <file>        read the agent key from this file
  --platform <name>        platform to register as (default docker)
  --region <name>          region to register in (default none)
  --max-sessions <n>       capacity.max_sessions (default 10)
  --delay-ms <n>           how long each command "runs" before its result (default 50)
  --failure-rate <0..1>    chance that a command fails with SIMULATED_FAILURE (default 0)
  --fail-commands <list>   comma-separated command types that always fail, e.g. wake_session
  --mode echo|pattern      after the RFB handshake, echo the viewer's bytes (default) or send
                           the test pattern byte i = i % 251
  --no-reconnect           exit instead of reconnecting when the control plane goes away
  -h, --help               show this help

Environment:
  STREAMSPACE_AGENT_KEY    the agent key, when neither --key nor --key-file is given

Prints one JSON line per notable event, e.g. {"msg":"registered","agent_id":"...","heartbeat_interval":"10s"}.
Stops cleanly on SIGINT or SIGTERM. Exit codes: 0 stopped, 1 could not connect or register,
2 bad arguments.

Example:
  STREAMSPACE_AGENT_KEY=... npm run streamspace-agent -- --url http://127.0.0.1:8080 --agent-id docker-sim-01 --region local
`;

const options = {
  ...commonAgentOptions,
  key: { type: 'string' },
  platform: { type: 'string', default: 'docker' },
  'max-sessions': { type: 'string', default: '10' },
  'delay-ms': { type: 'string', default: '50' },
  'failure-rate': { type: 'string', default: '0' },
  'fail-commands': { type: 'string', default: '' },
  mode: { type: 'string', default: 'echo' },
} as const;

async function main(args: string[]): Promise<number> {
  const values = parseAgentArgs(args, options, help);
  if (typeof values === 'number') return values;
  const key = agentKey(values);
  const maxSessions = Number(values['max-sessions']);
  const delayMs = Number(values['delay-ms']);
  const failureRate = Number(values['failure-rate']);
  const mode = values.mode;
  const problems = [
    urlProblem(values.url),
    values['agent-id'] ? null : '--agent-id is required',
    key ? null : 'an agent key is required (--key, --key-file or STREAMSPACE_AGENT_KEY)',
    Number.isInteger(maxSessions) && maxSessions >= 1 ? null : `--max-sessions must be a whole number ≥ 1, got "${values['max-sessions']}"`,
    Number.isFinite(delayMs) && delayMs >= 0 ? null : `--delay-ms must be a number ≥ 0, got "${values['delay-ms']}"`,
    failureRate >= 0 && failureRate <= 1 ? null : `--failure-rate must be between 0 and 1, got "${values['failure-rate']}"`,
    mode === 'echo' || mode === 'pattern' ? null : `--mode must be echo or pattern, got "${mode}"`,
  ].filter((p): p is string => p !== null);
  if (problems.length > 0) return usageError(problems.join('\n'));

  const agent = new SimAgent({
    url: values.url as string,
    agentId: values['agent-id'] as string,
    key: key as string,
    platform: values.platform,
    region: values.region,
    maxSessions,
    commandDelayMs: delayMs,
    failureRate,
    failCommands: values['fail-commands']
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    mode: mode === 'pattern' ? 'pattern' : 'echo',
    autoReconnect: !values['no-reconnect'],
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await agent.start();

  return runUntilSignal(agent, () => agent.stop(), values['no-reconnect']);
}

runScript('streamspace-agent', main);
