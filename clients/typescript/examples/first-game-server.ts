import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createPanelClient, PanelApiError, type InstanceState, type PanelClient } from '../src/client.ts';
import { waitForInstanceState } from '../src/events.ts';

/**
 * A first game server through the typed client: sign in, create a server, wait (over the
 * event stream) until it is active, start it, wait until it runs, and talk to its console.
 * The CLI at the bottom calls firstGameServer(); test/clients/typed-client-example.test.ts
 * runs the same function against a real API with a local game agent.
 */

export interface FirstGameServerOptions {
  /** The API's base URL, e.g. http://localhost:8080. */
  url: string;
  /** A username or an email. */
  login: string;
  password: string;
  name?: string;
  /** A template id of GET /api/game/templates; the panel's default when omitted. */
  template?: string;
  /** Sent to the console once the server runs; `say …` is echoed back as a `[chat]` line. */
  command?: string;
  /** For each wait (active, running, the console's answer). Default two minutes. */
  timeoutMs?: number;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

export interface FirstGameServerResult {
  serverId: string;
  active: InstanceState;
  running: InstanceState;
  /** Every console line read, up to and including the answer to `command`. */
  consoleLines: string[];
}

async function signIn(client: PanelClient, login: string, password: string): Promise<void> {
  const { data, error, response } = await client.POST('/api/auth/login', { body: { login, password } });
  if (error) {
    // `code` is what to branch on; `message` says what to do, for people.
    if (error.code === 'AUTH_INVALID_CREDENTIALS') throw new PanelApiError(`signing in as ${login} (wrong login or password)`, response.status, error);
    throw new PanelApiError('POST /api/auth/login', response.status, error);
  }
  // Every 4xx/5xx of the document carries the error envelope, so `if (error)` above rules the
  // error answer out and `data` is the success body here, with no cast.
  client.setToken(data.access_token);
}

async function currentState(client: PanelClient, id: string): Promise<InstanceState> {
  const { data, error, response } = await client.GET('/api/game/servers/{id}', { params: { path: { id } } });
  if (error) throw new PanelApiError(`GET /api/game/servers/${id}`, response.status, error);
  return data.server.state;
}

/** Opens the console WebSocket with a fresh ticket, sends `command` once the server's state frame arrives, and reads until a line contains `expect`. */
async function talkToConsole(client: PanelClient, id: string, command: string, expect: string, timeoutMs: number): Promise<string[]> {
  const { data, error, response } = await client.POST('/api/game/servers/{id}/console/ticket', { params: { path: { id } } });
  if (error) throw new PanelApiError('POST /api/game/servers/{id}/console/ticket', response.status, error);
  // `data.url` names the panel's public address (PUBLIC_URL), right for browsers; a script
  // talks to the address it was given, so the socket goes there too, with the same ticket.
  const url = new URL(`/api/game/servers/${encodeURIComponent(id)}/console`, client.baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('ticket', data.ticket);
  const socket = new WebSocket(url);
  const lines: string[] = [];
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no console line with ${JSON.stringify(expect)} within ${timeoutMs} ms; read ${JSON.stringify(lines)}`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.on('unexpected-response', (_req, res) => fail(new Error(`the console upgrade was refused with ${res.statusCode}`)));
      socket.on('error', fail);
      socket.on('close', (code, reason) => fail(new Error(`the console closed with ${code} ${reason.toString()}`)));
      let sent = false;
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as { type: string; data?: string; state?: string; code?: string };
        if (frame.type === 'state' && !sent) {
          sent = true;
          socket.send(JSON.stringify({ type: 'command', command }));
        } else if (frame.type === 'line' && frame.data !== undefined) {
          lines.push(frame.data);
          if (frame.data.includes(expect)) {
            clearTimeout(timer);
            resolve(lines);
          }
        } else if (frame.type === 'error') fail(new Error(`the console refused a frame: ${frame.code ?? 'no code'}`));
      });
    });
  } finally {
    socket.removeAllListeners('close');
    socket.close(1000);
  }
}

export async function firstGameServer(options: FirstGameServerOptions): Promise<FirstGameServerResult> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const client = createPanelClient(options.url);

  await signIn(client, options.login, options.password);
  log(`signed in as ${options.login}`);

  const {
    data: created,
    error,
    response,
  } = await client.POST('/api/game/servers', {
    body: { name: options.name ?? 'My first server', ...(options.template ? { template: options.template } : {}) },
  });
  if (error) {
    if (error.code === 'PLAN_LIMIT_REACHED' || error.code === 'BILLING_PAST_DUE') throw new PanelApiError('creating a server (see your plan: GET /api/billing/state)', response.status, error);
    throw new PanelApiError('POST /api/game/servers', response.status, error);
  }
  const id = created.server.id;
  log(`created server ${id} (${created.server.state.lifecycle})`);

  const read = () => currentState(client, id);
  const onState = (s: InstanceState) => log(`event: ${s.lifecycle}, ${s.status}${s.error ? ` (${s.error.code})` : ''}`);
  const active = await waitForInstanceState(client, id, (s) => s.lifecycle === 'active', { current: read, onState, timeoutMs });
  log(`server ${id} is active (agent status ${active.status})`);

  const started = await client.POST('/api/game/servers/{id}/start', { params: { path: { id } } });
  if (started.error) {
    if (started.error.code === 'INSTANCE_NOT_ACTIVE') throw new PanelApiError(`starting ${id} (it left active: ${JSON.stringify(started.error.details)})`, started.response.status, started.error);
    throw new PanelApiError('POST /api/game/servers/{id}/start', started.response.status, started.error);
  }
  log(`start accepted (${started.data.status})`);
  const running = await waitForInstanceState(client, id, (s) => s.status === 'running', { current: read, onState, timeoutMs });
  log(`server ${id} is running`);

  const command = options.command ?? 'say hello from the typed client';
  const expect = command.startsWith('say ') ? `[chat] ${command.slice(4)}` : command;
  const consoleLines = await talkToConsole(client, id, command, expect, timeoutMs);
  for (const line of consoleLines) log(`console: ${line}`);
  return { serverId: id, active, running, consoleLines };
}

const usage = `Usage: node --import tsx clients/typescript/examples/first-game-server.ts --url URL --login NAME [--password PW] [options]

Signs in, creates a game server, waits over the event stream until it is active, starts it,
waits until it runs, sends a console command over the console WebSocket and prints the
console lines read. The server is left running (delete it with DELETE /api/game/servers/{id}).

  --url URL         the API, e.g. http://localhost:8080
  --login NAME      username or email
  --password PW     the password (or set PANEL_PASSWORD, which keeps it out of your shell history)
  --name NAME       the server's name (default "My first server")
  --template ID     a template of GET /api/game/templates (default: the panel's)
  --command TEXT    the console command (default "say hello from the typed client")
  --timeout-ms N    for each wait (default 120000)
  -h, --help        show this help

Exit 0 when the console answered, 1 when the API refused something (its code and request id
are printed), 2 on bad arguments.
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        login: { type: 'string' },
        password: { type: 'string' },
        name: { type: 'string' },
        template: { type: 'string' },
        command: { type: 'string' },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const password = values.password ?? process.env.PANEL_PASSWORD;
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
  if (!values.url || !values.login || !password || (timeoutMs !== undefined && !(timeoutMs > 0))) {
    process.stderr.write(`--url, --login and --password (or PANEL_PASSWORD) are required, --timeout-ms a positive number\n\n${usage}`);
    return 2;
  }
  try {
    const result = await firstGameServer({
      url: values.url,
      login: values.login,
      password,
      name: values.name,
      template: values.template,
      command: values.command,
      timeoutMs,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`done: server ${result.serverId} is running; ${result.consoleLines.length} console lines read\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
