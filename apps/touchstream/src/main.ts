// The production executable: `touchstream run --target …` runs services against existing Kafka, Redis and
// ClickHouse, configured by environment variables (config.ts). Developer and operator tools (up, demo,
// bench, quality, dead letters, the local stack) live in tools/cli and are not part of the image.
import { Command } from 'commander';
import { VERSION } from './app.ts';
import { runCommand } from './run-command.ts';

const program = new Command()
  .name('touchstream')
  .description('Real-time customer-journey analytics: touchpoints in, weak signals, alerts and KPIs out.')
  .version(VERSION)
  .addCommand(runCommand());

await program.parseAsync(process.argv);
