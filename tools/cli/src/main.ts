// The developer and operator CLI behind ./touchstream: `up` (whole local stack + demo), `run` (the production
// command, from apps/touchstream), `demo`, `deadletters`, `quality`, `bench`, `export` (BI extracts), `erase`, `profiles import`, `train` (the churn model). Not part of the production image.
import { Command } from 'commander';
import { runCommand, VERSION } from '@touchstream/app';
import { upCommand } from './up/up.ts';
import { demoCommand } from './demo/command.ts';
import { deadLettersCommand } from './deadletters/cli.ts';
import { qualityCommand } from './quality/cli.ts';
import { benchCommand } from './bench/query.ts';
import { exportCommand } from './export/cli.ts';
import { eraseCommand } from './erase/cli.ts';
import { trainCommand } from './train/cli.ts';
import { profilesCommand } from './profiles/cli.ts';

const program = new Command()
  .name('touchstream')
  .description('Real-time customer-journey analytics: touchpoints in, weak signals, alerts and KPIs out.')
  .version(VERSION)
  .addCommand(upCommand())
  .addCommand(runCommand())
  .addCommand(demoCommand())
  .addCommand(deadLettersCommand())
  .addCommand(qualityCommand())
  .addCommand(benchCommand())
  .addCommand(exportCommand())
  .addCommand(eraseCommand())
  .addCommand(trainCommand())
  .addCommand(profilesCommand());

await program.parseAsync(process.argv);
