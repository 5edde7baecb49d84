// `touchstream run`: the services of this process, configured by the environment (config.ts).
import { Command, Option } from 'commander';
import { ConfigError, environment, loadConfig, TARGETS } from './config.ts';
import { startApp } from './app.ts';
import { fail, onShutdown } from './shutdown.ts';

export function runCommand(): Command {
  return new Command('run')
    .description('Run services against existing Kafka, Redis and ClickHouse, configured by environment variables (see README)')
    .addOption(new Option('--target <targets>', `comma list of ${TARGETS.join(', ')}, or all (default: TOUCHSTREAM_TARGET, else all)`))
    .action(async (opts: { target?: string }) => {
      let config;
      try {
        config = loadConfig({ ...environment(), ...(opts.target ? { TOUCHSTREAM_TARGET: opts.target } : {}) });
      } catch (err) {
        fail(err instanceof ConfigError ? `${err.message}\nSet these environment variables (README: Configuration) and run again.` : String(err));
      }
      const app = await startApp(config).catch((err: Error) => fail(`could not start: ${err.message}`));
      onShutdown(config.SHUTDOWN_TIMEOUT_MS, () => app.stop());
      process.on('SIGHUP', () => void app.reloadRules());
    });
}
