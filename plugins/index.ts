import type { PanelPlugin } from '../src/plugin-api/index.ts';
import { gamePlugin } from './game/index.ts';
import { devPlugin } from './dev/index.ts';
import { streamspacePlugin } from './streamspace/index.ts';

/**
 * Every plugin this build ships. `plugins.enabled` in config picks among them. Only the
 * composition roots (src/main.ts, scripts/) import this list; the core never does.
 */
export const shippedPlugins: PanelPlugin[] = [gamePlugin, devPlugin, streamspacePlugin];
