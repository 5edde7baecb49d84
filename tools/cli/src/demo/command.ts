// `touchstream demo`: demo journeys posted to a running ingest.
import { Command } from 'commander';
import { onShutdown } from '@touchstream/app';
import { startDemoTraffic } from './demo.ts';
import { DEMO_WRITE_KEY } from './keys.ts';

export function demoCommand(): Command {
  return new Command('demo')
    .description('Post demo journeys to a running ingest')
    .requiredOption('--url <url>', 'ingest base URL', 'http://127.0.0.1:8080')
    .option('--key <key>', 'write key', DEMO_WRITE_KEY)
    .option('--rate <journeys>', 'journeys started per second', '2')
    .option('--journeys <n>', 'stop after this many journeys')
    .option('--seed <n>', 'random seed, for reproducible traffic')
    .action(async (opts: { url: string; key: string; rate: string; journeys?: string; seed?: string }) => {
      const demo = startDemoTraffic({
        url: opts.url,
        writeKey: opts.key,
        journeysPerSecond: Number(opts.rate),
        maxJourneys: opts.journeys ? Number(opts.journeys) : undefined,
        seed: opts.seed ? Number(opts.seed) : undefined,
        onError: (m) => console.error(m),
        onPosted: (s) => process.stdout.write(`\rjourneys ${s.journeys} · profiles ${s.profiles} · events posted ${s.posted} · accepted ${s.accepted} · rejected ${s.rejected}   `),
      });
      onShutdown(5000, () => demo.stop());
      await demo.done;
      process.stdout.write('\n');
    });
}
