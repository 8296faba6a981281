// `npm start`: the compiled server (dist/), built first when dist/ is missing or older than the
// sources. Plain JavaScript so that it runs before any build exists and without tsx.
//
// The server runs in this very process (an import, not a child): the node flags npm start
// gives, signals (SIGTERM drains) and the exit code are the server's own, and no second node
// process sits beside it holding memory. The build, when needed, is a child process (tsc), so
// none of the compiler's memory stays in the server.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, distDir } from './build.mjs';

try {
  await build({ ifStale: true });
} catch (err) {
  process.stderr.write(`npm start: ${err.message}\n`);
  process.exit(1);
}
await import(pathToFileURL(join(distDir, 'src/main.js')).href);
