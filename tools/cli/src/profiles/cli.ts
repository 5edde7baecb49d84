// `touchstream profiles import <file.csv|file.ndjson>`: customer profiles from a CRM export (README: Personas).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { environment } from '@touchstream/app';
import { progressBar } from '../progress.ts';
import { csvProfiles, importProfiles, isCsv, ndjsonProfiles } from './import.ts';

/** Data lines of a file (for the progress bar's total): CSV rows without the header, NDJSON non-blank lines. */
function countLines(file: string): number {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  return isCsv(file) ? Math.max(lines - 1, 0) : lines;
}

export function profilesCommand(): Command {
  const command = new Command('profiles').description('Customer profiles (the attributes personas are decided from)');
  command
    .command('import')
    .description('Send a CRM export to POST /v1/profiles in batches: CSV (header row; customer_id, optional updated_at and profile_id, every other column an attribute) or NDJSON (one profile per line)')
    .argument('<file>', 'a .csv file, or NDJSON (.ndjson, .jsonl, anything else)')
    .option('--url <url>', 'base URL of the process running the ingest target', 'http://127.0.0.1:8080')
    .option('--key <write key>', 'a write key (default: the first of WRITE_KEYS)', Object.keys(parseWriteKeys(environment().WRITE_KEYS))[0])
    .option('--batch <n>', 'profiles per request (at most the server\'s INGEST_MAX_EVENTS)', '500')
    .option('--strings <columns>', 'CSV columns kept as text even when they look like numbers (e.g. postcode,phone)', '')
    .action(async (file: string, flags: { url: string; key?: string; batch: string; strings: string }) => {
      if (!flags.key) {
        console.error('✖ no write key: pass --key or set WRITE_KEYS (the one the server runs with)');
        process.exitCode = 2;
        return;
      }
      let total: number;
      try {
        total = countLines(file);
      } catch (err) {
        console.error(`✖ cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const strings = flags.strings.split(',').map((s) => s.trim()).filter(Boolean);
      const bar = progressBar('importing [{bar}] {percentage}% · {value}/{total} profiles');
      bar.start(total, 0);
      try {
        const source = isCsv(file) ? csvProfiles(file, strings) : ndjsonProfiles(file);
        const summary = await importProfiles(source, { url: flags.url, writeKey: flags.key, batchSize: Number(flags.batch), strings, onProgress: (done) => bar.update(done) }).finally(() => bar.stop());
        console.log(`read ${summary.read} profile(s): ${summary.accepted} accepted, ${summary.rejected.length} rejected`);
        for (const r of summary.rejected.slice(0, 20)) console.error(`✖ line ${r.line}: ${r.errors.join('; ')}`);
        if (summary.rejected.length > 20) console.error(`  … and ${summary.rejected.length - 20} more (the server keeps every one in the dead-letter topic: ./touchstream deadletters list)`);
        if (summary.rejected.length) process.exitCode = 1;
      } catch (err) {
        console.error(`✖ ${(err as Error).message}; fix the cause and run the same command again (profiles with an updated_at or profile_id count once)`);
        process.exitCode = 1;
      }
    });
  return command;
}

/** WRITE_KEYS=<key>=<source>,… → keys (the server's own parsing lives in its config; only the first key is needed here). */
function parseWriteKeys(text: string | undefined): Record<string, string> {
  return Object.fromEntries((text ?? '').split(',').map((p) => p.trim()).filter(Boolean).map((p) => [p.split('=')[0]!, p.split('=')[1] ?? '']));
}
