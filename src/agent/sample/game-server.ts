// A tiny game server for the reference agent to host: reads commands on stdin, logs to
// stdout, keeps its world in the data directory (the current working directory).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface World {
  ticks: number;
  messages: string[];
}

const worldFile = 'world.json';
const world: World = existsSync(worldFile) ? (JSON.parse(readFileSync(worldFile, 'utf8')) as World) : { ticks: 0, messages: [] };
const save = (): void => writeFileSync(worldFile, JSON.stringify(world, null, 2));

process.stdout.write(`[server] loading world (${world.ticks} ticks, ${world.messages.length} messages)\n`);
const ticker = setInterval(() => {
  world.ticks += 1;
}, 1000);
process.stdout.write('[server] Done! Server ready\n');

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [verb, ...rest] = line.trim().split(' ');
  const text = rest.join(' ');
  switch (verb) {
    case 'say':
      world.messages.push(text);
      process.stdout.write(`[chat] ${text}\n`);
      break;
    case 'save':
      save();
      process.stdout.write('[server] world saved\n');
      break;
    case 'stop':
      save();
      process.stdout.write('[server] stopping\n');
      clearInterval(ticker);
      process.exit(0);
      break;
    case 'crash':
      process.stdout.write('[server] simulated crash\n');
      process.exit(3);
      break;
    default:
      process.stdout.write(`[server] unknown command: ${line}\n`);
  }
});
process.on('SIGTERM', () => {
  save();
  process.stdout.write('[server] stopping on SIGTERM\n');
  process.exit(0);
});
