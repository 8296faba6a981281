import { ConfigError, loadConfig } from '../../config/load.ts';
import { StartupError } from '../boot/startup-error.ts';
import { createLogger } from '../log/logger.ts';
import { PluginBootError } from '../plugin-host/plugin-host.ts';
import type { PanelPlugin } from '../plugin-host/plugin.ts';
import { startServer } from '../../server.ts';

/**
 * The process around the server: config from the environment, signals, exit codes.
 * SIGTERM/SIGINT drain and exit 0 (one during the boot drains once the server is up); a second
 * signal exits at once with 1.
 */
export async function runServerProcess(availablePlugins: readonly PanelPlugin[]): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const log = createLogger(config.log.level);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting');
    log.flush();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection; exiting');
    log.flush();
    process.exit(1);
  });

  // Signals are handled from before the boot: the server announces "listening" inside
  // startServer, and a SIGTERM right after that must drain, not kill the process outright.
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let pendingSignal: NodeJS.Signals | null = null;
  let signals = 0;
  const shutdown = (running: NonNullable<typeof server>, signal: NodeJS.Signals): void => {
    running.shutdown(signal).then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      log.flush();
      process.exit(1);
    }
    if (server) shutdown(server, signal);
    else pendingSignal = signal; // still booting: drain as soon as the server is up
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    server = await startServer({ config, log, availablePlugins });
  } catch (err) {
    if (err instanceof StartupError) {
      // One line for the operator; the error underneath, with its stack, for LOG_LEVEL=debug.
      process.stderr.write(`cannot start: ${err.message}\n`);
      log.debug({ err: err.cause ?? err, setting: err.setting }, 'could not start');
    } else if (err instanceof PluginBootError || err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else log.fatal({ err }, 'could not start');
    log.flush();
    process.exit(1);
  }
  if (pendingSignal) shutdown(server, pendingSignal);
}
