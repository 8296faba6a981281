import { shippedPlugins } from '../plugins/index.ts';
import { runServerProcess } from './core/process/run-server-process.ts';

await runServerProcess(shippedPlugins);
