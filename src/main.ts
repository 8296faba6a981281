import type { PanelPlugin } from './plugin-api/index.ts';
import { runServerProcess } from './core/process/run-server-process.ts';

/** Every plugin this build ships; config's `plugins.enabled` picks among them. */
const availablePlugins: PanelPlugin[] = [];

await runServerProcess(availablePlugins);
