import { parseInvocation, renderUsage } from './core/process/usage.ts';

// The arguments first, and the server's modules only when a server is wanted: `--help` loads
// no plugin, opens no database and creates nothing.
const invocation = parseInvocation(process.argv.slice(2));
if (invocation.kind === 'help') {
  process.stdout.write(renderUsage());
  process.exit(0);
}
if (invocation.kind === 'bad') {
  process.stderr.write(`${invocation.message}\n`);
  process.exit(2);
}
const [{ shippedPlugins }, { runServerProcess }] = await Promise.all([import('../plugins/index.ts'), import('./core/process/run-server-process.ts')]);
await runServerProcess(shippedPlugins);
