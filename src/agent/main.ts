import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Workload } from './workload.ts';
import { Backups } from './backups.ts';
import { CodeServer } from './code-server.ts';
import { Files } from './files.ts';
import { createAgentServer } from './agent-server.ts';

const help = `Usage: npm run agent -- --data-dir DIR --command CMD (--token TOKEN | --token-file FILE) [options]

The reference agent: runs one instance's workload and serves the agent contract
(docs/agent-contract.md) over HTTP and WebSocket for the panel API to poll.

Options:
  --data-dir <dir>         the instance's data directory (created if missing); the workload runs in it
  --backup-dir <dir>       where backup archives go (default: <data-dir>/../backups)
  --command <cmd>          the workload's command line (run by the shell in the data directory)
  --install-command <cmd>  run once before the first start; the agent reports "installing" meanwhile
  --ready-pattern <regex>  output line that marks the workload running (default: alive for 300 ms)
  --ide-command <cmd>      dev instances: the IDE to run on $PORT (enables /dev/codeserver/*)
  --token=<token>          bearer token the API must send (the = form: tokens may start with a dash;
                           prefer --token-file: argv is visible to other users)
  --token-file <file>      read the token from this file
  --host <host>            interface to listen on (default 127.0.0.1)
  --port <port>            port (default 0, which picks a free port; the chosen one is printed)
  --autostart              start the workload once installed
  --max-upload-bytes <n>   largest file or archive upload accepted (default 10 GiB; more answers 413)
  -h, --help               show this help

Prints one JSON line {"msg":"agent listening","port":N} when ready for requests.
Example:
  npm run agent -- --data-dir ./data/instances/demo --token-file ./token --command "./start-server.sh" --ready-pattern "Server ready"
`;

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    'backup-dir': { type: 'string' },
    command: { type: 'string' },
    'install-command': { type: 'string' },
    'ready-pattern': { type: 'string' },
    'ide-command': { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    autostart: { type: 'boolean', default: false },
    'max-upload-bytes': { type: 'string', default: String(10 * 1024 ** 3) },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(help);
  process.exit(0);
}
const token = values.token ?? (values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined);
const problems = [
  values['data-dir'] ? null : '--data-dir is required',
  values.command ? null : '--command is required',
  token && token.length >= 16 ? null : 'a token of at least 16 characters is required (--token or --token-file)',
].filter((p): p is string => p !== null);
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n\n${help}`);
  process.exit(2);
}

const dataDir = resolve(values['data-dir'] as string);
const backupDir = resolve(values['backup-dir'] ?? `${dataDir}/../backups`);
await Backups.recover(dataDir);
mkdirSync(backupDir, { recursive: true });
const workload = new Workload({
  command: values.command as string,
  installCommand: values['install-command'] ?? null,
  dataDir,
  readyPattern: values['ready-pattern'] ? new RegExp(values['ready-pattern']) : null,
  stopTimeoutMs: 10_000,
});
const backups = new Backups(dataDir, backupDir, workload);
const codeServer = values['ide-command'] ? new CodeServer(values['ide-command'], dataDir, resolve(dataDir, '..', 'ide.pid')) : null;
const maxUploadBytes = Number(values['max-upload-bytes']);
const files = new Files(dataDir, maxUploadBytes);
const server = createAgentServer({ token: token as string, version: '1.0.0', workload, backups, codeServer, files, maxUploadBytes });
server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'agent listening', port: typeof address === 'object' && address ? address.port : 0, pid: process.pid })}\n`);
});
void workload.install().then(() => {
  if (values.autostart && workload.state === 'stopped') workload.start();
});

const shutdown = async () => {
  server.close();
  await Promise.allSettled([workload.stop(), codeServer?.stop()]);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
