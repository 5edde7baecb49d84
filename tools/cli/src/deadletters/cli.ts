// `touchstream deadletters …`: list, export and replay dead letters from the command line.
import { environment } from '@touchstream/app';
import { DEMO_WRITE_KEY } from '../demo/keys.ts';
import { createWriteStream } from 'node:fs';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createKafka, topicNames } from '@touchstream/kafka';
import { loadErasures, readDeadLetters, replayExportFile, toExportLine, type ErasureCheck, type StoredDeadLetter } from './deadletters.ts';

/** With PRIVACY_SECRET set (as for the deployment), dead letters of erased customers are skipped (§14). */
async function erasuresFor(brokers: string): Promise<ErasureCheck | undefined> {
  const env = environment();
  if (!env.PRIVACY_SECRET) return undefined;
  const pseudonymize = env.PSEUDONYMIZE_CUSTOMER_IDS === 'true' || env.PSEUDONYMIZE_CUSTOMER_IDS === '1';
  return loadErasures(createKafka({ brokers: brokers.split(',') }), env.PRIVACY_SECRET, pseudonymize, env.ERASED_CUSTOMER_POLICY === 'fresh' ? 'fresh' : 'refuse');
}

interface ReadFlags { brokers: string; topic: string; source?: string; stage?: string; reason?: string; limit?: string }

function progressBar(label: string) {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% · {value}/{total}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

async function read(flags: ReadFlags): Promise<StoredDeadLetter[]> {
  const kafka = createKafka({ brokers: flags.brokers.split(',') });
  const erasures = await erasuresFor(flags.brokers);
  const skipped = { erased: 0 };
  const bar = progressBar(`reading ${flags.topic}`);
  try {
    return await readDeadLetters({
      erasures,
      skipped,
      kafka,
      topic: flags.topic,
      filter: { source: flags.source, stage: flags.stage, reason: flags.reason },
      limit: flags.limit ? Number(flags.limit) : undefined,
      onProgress: (done, total) => bar.update(done, total),
    });
  } finally {
    bar.stop();
    if (skipped.erased > 0) console.error(`skipped ${skipped.erased} dead letter(s) of erased customers`);
  }
}

function withReadOptions(cmd: Command): Command {
  return cmd
    .option('--brokers <host:port,…>', 'Kafka brokers', environment().KAFKA_BROKERS ?? '127.0.0.1:9092')
    .option('--topic <topic>', `${topicNames.invalid} (rejected by ingest) or ${topicNames.deadLetters} (poison records)`, topicNames.invalid)
    .option('--source <source>', 'only dead letters from this source (write key name or consumer group)')
    .option('--stage <stage>', 'only this stage: ingest, processor, sink, notifier (webhook deliveries)')
    .option('--reason <text>', 'only dead letters whose reasons contain this text')
    .option('--limit <n>', 'at most this many');
}

export function deadLettersCommand(): Command {
  const cmd = new Command('deadletters').description('List, export and replay dead letters (rejected or unprocessable events)');

  withReadOptions(cmd.command('list').description('Show dead letters with their reasons')).action(async (flags: ReadFlags) => {
    const found = await read(flags);
    for (const d of found) {
      const dl = d.deadLetter;
      const preview = dl.payload.toString('utf8').replace(/\s+/g, ' ').slice(0, 120);
      console.log(`${d.position}  ${new Date(Math.floor(dl.received_at / 1000)).toISOString()}  ${dl.stage}/${dl.source}`);
      for (const r of dl.reasons) console.log(`    ✖ ${r}`);
      console.log(`    ${preview}`);
    }
    console.log(`${found.length} dead letter(s) in ${flags.topic}`);
  });

  withReadOptions(cmd.command('export').description('Write dead letters as NDJSON (one per line, payload as JSON) to fix by hand and replay'))
    .requiredOption('--out <file>', 'NDJSON file to write')
    .action(async (flags: ReadFlags & { out: string }) => {
      const found = await read(flags);
      const out = createWriteStream(flags.out);
      for (const d of found) out.write(`${toExportLine(d)}\n`);
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      console.log(`wrote ${found.length} dead letter(s) to ${flags.out}; fix their "payload" and run: touchstream deadletters replay ${flags.out}`);
    });

  cmd
    .command('replay <file>')
    .description('Post the payloads of an exported (and fixed) NDJSON file to ingest; they are validated like new events')
    .option('--url <url>', 'ingest base URL', 'http://127.0.0.1:8080')
    .option('--key <key>', 'write key', environment().TOUCHSTREAM_WRITE_KEY ?? DEMO_WRITE_KEY)
    .option('--brokers <host:port,…>', 'Kafka brokers (erasures.v1 is read to skip erased customers when PRIVACY_SECRET is set)', environment().KAFKA_BROKERS ?? '127.0.0.1:9092')
    .action(async (file: string, flags: { url: string; key: string; brokers: string }) => {
      const bar = progressBar('replaying');
      try {
        const erasures = await erasuresFor(flags.brokers);
        const report = await replayExportFile(file, { url: flags.url, writeKey: flags.key, erasures, onProgress: (d, t) => bar.update(d, t) });
        bar.stop();
        console.log(`accepted ${report.accepted} of ${report.total}${report.skippedErased ? ` (${report.skippedErased} line(s) of erased customers left out)` : ''}`);
        for (const r of report.rejected) console.log(`  line ${r.line}: ${r.errors.join('; ')}`);
        if (report.rejected.length) process.exitCode = 2;
      } catch (err) {
        bar.stop();
        console.error(`✖ ${(err as Error).message}`);
        process.exitCode = 1;
      }
    });
  return cmd;
}
